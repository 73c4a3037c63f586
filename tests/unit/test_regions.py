import pytest

from vodai.regions import region_from_url, resolve_region


@pytest.mark.parametrize(
    "url, region",
    [
        ("http://example-bucket-****.oss-cn-shanghai.aliyuncs.com/27ffc438.mp4", "cn-shanghai"),
        ("https://outin-abc.oss-ap-southeast-1.aliyuncs.com/image/default/A.jpg", "ap-southeast-1"),
        ("https://b.oss-cn-beijing-internal.aliyuncs.com/x.mp4", "cn-beijing"),
        ("https://oss-eu-central-1.aliyuncs.com/b/x.mp4", "eu-central-1"),
        ("https://cdn.example.com/x.mp4", None),
        ("not a url", None),
        (None, None),
        # Shapes the plain-URL fast path leaves to urlsplit: a port, userinfo, spaces, upper case.
        ("https://b.oss-cn-shanghai.aliyuncs.com:443/x.mp4", "cn-shanghai"),
        ("https://user@b.oss-cn-beijing.aliyuncs.com/x.mp4", "cn-beijing"),
        ("  https://b.OSS-CN-SHANGHAI.aliyuncs.com/x.mp4 ", "cn-shanghai"),
        ("https://b.oss-cn-shanghai.aliyuncs.com", "cn-shanghai"),
        ("https://b.oss-cn-shanghai.aliyuncs.com?x=1", "cn-shanghai"),
        ("https://b.oss-cn-shanghai.aliyuncs.com.evil.example/x.mp4", None),
    ],
)
def test_region_from_oss_host(url, region):
    assert region_from_url(url) == region


def test_resolution_order():
    kw = dict(envelope_region="cn-beijing", envelope_source="query",
              file_url="http://b.oss-cn-shanghai.aliyuncs.com/x", configured_region="ap-southeast-1", context_region="eu-central-1")
    assert resolve_region(**kw) == ("cn-beijing", "envelope:query")
    kw["envelope_region"] = None
    assert resolve_region(**kw) == ("cn-shanghai", "file-url")
    kw["file_url"] = "https://cdn.example.com/x"
    assert resolve_region(**kw) == ("ap-southeast-1", "VODAI_REGION")
    kw["configured_region"] = None
    assert resolve_region(**kw) == ("eu-central-1", "fc-context")
    kw["context_region"] = None
    assert resolve_region(**kw) == (None, "none")
