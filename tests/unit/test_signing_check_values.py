"""The published check values of every signing scheme reproduce exactly (alibaba-apis.md)."""

from vodai.signing import acs3, callback, mns, rpc


def test_rpc_v1_published_check_value():
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeDedicatedHosts",
        "Format": "JSON",
        "RegionId": "cn-beijing",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb",
        "SignatureVersion": "1.0",
        "Timestamp": "2023-03-13T08:34:30Z",
        "Version": "2014-05-26",
    }
    assert rpc.sign("GET", params, "testsecret") == "9NaGiOspFP5UPcwX8Iwt2YJXXuk="


def test_acs3_published_check_value():
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-content-sha256": acs3.EMPTY_BODY_SHA256,
    }
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
    auth = acs3.authorization(
        "POST", "/", query, headers, access_key_id="YourAccessKeyId", access_key_secret="YourAccessKeySecret"
    )
    assert auth == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )
    assert acs3.parse_authorization(auth)["Credential"] == "YourAccessKeyId"


def test_mns_published_check_value_prefix():
    headers = {"Date": "Thu, 09 Jul 2015 03:01:34 GMT", "x-mns-version": "2015-06-06"}
    signature = mns.sign("GET", "/MyQueue", headers, "TestAccessSecret")
    # The docs mask the end of the published value; the prefix is what they give.
    assert signature.startswith("uwx3yeWoILzgmvesW0BQSgfM")
    assert mns.parse_authorization(f"MNS TestAccessID:{signature}") == ("TestAccessID", signature)


def test_vod_callback_published_check_value_prefix():
    sig = callback.callback_signature("https://www.example.com/your/callback", "1519375990", "test123")
    assert sig.startswith("c72b60894140fa98920f1279219b") and len(sig) == 32


def test_percent_encoding_follows_rfc3986():
    from vodai.signing import percent_encode

    assert percent_encode("a b*c~d/e+f=g&h") == "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
    assert percent_encode("视频") == "%E8%A7%86%E9%A2%91"


def test_rpc_v1_keeps_empty_values_and_drops_none():
    base = {"Action": "X", "Empty": "", "Gone": None}
    assert rpc.canonical_query(base) == "Action=X&Empty="


def test_percent_encode_matches_rfc3986_quote_on_any_text():
    """The table-driven encoder against urllib's quote (the reference): every code point class,
    reserved characters, surrogate-free astral characters, empty text."""
    import random
    from urllib.parse import quote

    from vodai.signing._encoding import percent_encode

    rnd = random.Random(2026)
    alphabet = [chr(i) for i in range(0x250)] + ["视", "频", "\U0001F600", "\u00e9", " ", "*", "~", "%", "/"]
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
        assert percent_encode.__wrapped__(text) == quote(text, safe="-_.~", encoding="utf-8"), text


def test_acs3_default_signed_headers_follow_each_header_set():
    """The signed names are worked out once per set of header names: sets that differ in one name
    or only in case, asked for in turn, each get their own sorted, lower-case list."""
    def by_hand(headers):
        return sorted({k.lower() for k in headers if k.lower() in ("host", "content-type") or k.lower().startswith("x-acs-")})

    sets = [
        {"host": "h", "x-acs-action": "A", "x-acs-date": "d", "Accept": "application/json"},
        {"Host": "h", "X-Acs-Action": "A", "x-acs-date": "d", "Content-Type": "application/json"},
        {"host": "h", "x-acs-action": "A", "x-acs-date": "d", "x-acs-security-token": "t", "x-acs-accesskey-id": "k"},
        {"Accept": "application/json"},
    ]
    for _ in range(2):
        for headers in sets:
            names = acs3.default_signed_headers(headers)
            assert names == by_hand(headers)
            names.append("mutated")  # a fresh list each time: the cached names stay as they were
    auth = acs3.authorization("POST", "/", "", sets[1], access_key_id="id", access_key_secret="s")
    assert "SignedHeaders=content-type;host;x-acs-action;x-acs-date," in auth


def test_hmac_with_a_keyed_copy_equals_the_one_shot_hmac():
    """vodai.signing._hmac keeps one keyed HMAC per secret and signs with copies of it: for more
    secrets than it keeps, interleaved, non-ASCII text and the three algorithms (and from several
    threads at once) every digest is hmac.digest's."""
    import hmac
    import random
    from concurrent.futures import ThreadPoolExecutor

    from vodai.signing._hmac import hmac_digest

    rng = random.Random(3)
    secrets = [f"secret-{i}-ü" * (i % 5 + 1) for i in range(40)]
    cases = [(rng.choice(secrets), "".join(rng.choice("abc\n&=é漢") for _ in range(rng.randrange(0, 300))),
              rng.choice(["sha1", "sha256", "md5"])) for _ in range(3000)]

    def check(case):
        secret, message, algorithm = case
        return hmac_digest(secret, message, algorithm) == hmac.digest(secret.encode(), message.encode(), algorithm)

    assert all(map(check, cases))
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, cases))
