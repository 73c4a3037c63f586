"""Requests vodai signs verify under the official SDKs' own signing functions.

The SDKs are independent oracles here (dev dependencies only): for each scheme we take the
request our client actually prepares, hand its parts to the SDK's signer, and compare.
"""

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from vodai.clients import MnsPublisher, VodClient, new_session
from vodai.credentials import Credentials
from vodai.signing import acs3

# Values that trip encoders: spaces, * ~ / + = &, non-ASCII, and JSON UserData.
TRICKY = {
    "VideoId": "a b*c~d/e+f=g&h",
    "AITemplateId": "模板 ü 🎬",
    "UserData": '{"Extend":{"title":"café & 视频 * ~ / + =","n":1}}',
    "AIPipelineId": "",  # an empty value is signed as "k="
}
CREDENTIALS = [
    pytest.param(Credentials("LTAI-test-id", "test secret/with+chars="), id="ak"),
    pytest.param(Credentials("STS.test-id", "sts-secret", "CAIS+token/with=chars&more"), id="sts"),
]


def _query(prepared) -> dict:
    return dict(parse_qsl(urlsplit(prepared.url).query, keep_blank_values=True))


@pytest.mark.parametrize("creds", CREDENTIALS)
def test_v3_signature_matches_tea_openapi(creds):
    from alibabacloud_tea_openapi.utils import Utils

    prepared = VodClient(creds, new_session(), endpoint="https://vod.cn-shanghai.aliyuncs.com").prepare(
        "SubmitAIImageJob", "cn-shanghai", TRICKY
    )
    parts = acs3.parse_authorization(prepared.headers["Authorization"])
    signed = parts["SignedHeaders"].split(";")
    if creds.security_token:
        assert {"x-acs-security-token", "x-acs-accesskey-id"} <= set(signed)

    class SdkRequest:  # the attributes Utils.get_authorization reads
        method = "POST"
        pathname = "/"
        query = _query(prepared)
        headers = {k.lower(): v for k, v in prepared.headers.items() if k.lower() in signed}

    expected = Utils.get_authorization(
        SdkRequest, "ACS3-HMAC-SHA256", prepared.headers["x-acs-content-sha256"], creds.access_key_id, creds.access_key_secret
    )
    assert prepared.headers["Authorization"] == expected
    assert SdkRequest.query["VideoId"] == TRICKY["VideoId"] and SdkRequest.query["UserData"] == TRICKY["UserData"]


@pytest.mark.parametrize("creds", CREDENTIALS)
def test_v1_signature_matches_tea_openapi_and_legacy_core(creds):
    from alibabacloud_tea_openapi.utils import Utils
    from aliyunsdkcore.auth.algorithm import sha_hmac1
    from aliyunsdkcore.auth.composer import rpc_signature_composer as composer

    prepared = VodClient(creds, new_session(), endpoint="https://vod.cn-shanghai.aliyuncs.com", signature_version="v1").prepare(
        "SubmitAIImageJob", "cn-shanghai", TRICKY
    )
    params = _query(prepared)
    signature = params.pop("Signature")
    assert (params.get("SecurityToken") == creds.security_token) if creds.security_token else "SecurityToken" not in params
    assert Utils.get_rpcsignature(params, "POST", creds.access_key_secret) == signature
    # A module-level "private" function: reached with getattr (no name mangling at module level).
    legacy_string = getattr(composer, "__compose_string_to_sign")("POST", params)
    assert sha_hmac1.get_sign_string(legacy_string, creds.access_key_secret + "&") == signature


@pytest.mark.parametrize("creds", CREDENTIALS)
def test_mns_signature_matches_mns_sdk(creds):
    from mns.auth import Credentials as MnsCredentials
    from mns.mns_client import MNSClient

    prepared = MnsPublisher(creds, new_session(), endpoint="http://123.mns.cn-shanghai.aliyuncs.com").prepare(
        "vodai-callback", TRICKY["UserData"], tag="SubmitAIImageJob"
    )
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    resource = unquote(urlsplit(prepared.url).path)
    client = MNSClient("http://123.mns.cn-shanghai.aliyuncs.com", creds.access_key_id, creds.access_key_secret)
    expected = client.get_signature("POST", headers, resource,
                                    MnsCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token or ""))
    assert prepared.headers["Authorization"] == expected
    if creds.security_token:
        assert prepared.headers["security-token"] == creds.security_token
