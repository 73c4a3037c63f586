"""VOD callback authentication: the published check value, accepted and refused callbacks."""

import pytest

from vodai.callback import auth
from vodai.callback.auth import CallbackAuthError, query_region, signed_url, verify
from vodai.exceptions import VodaiError
from vodai.signing.callback import callback_signature

from .helpers import md5_signature

URL = "https://www.example.com/your/callback"
TS = "1519375990"
KEY = "test123"
WINDOW = 300


def _headers(ts=TS, key=KEY, url=URL):
    return {"X-VOD-TIMESTAMP": ts, "X-VOD-SIGNATURE": md5_signature(url, ts, key)}


def _refused(headers, *, keys=(KEY,), now=int(TS) + 5, url=URL) -> str:
    with pytest.raises(CallbackAuthError) as info:
        verify(headers, url=url, keys=list(keys), window=WINDOW, now=now)
    reason = info.value.reason
    for key in keys:
        assert key not in reason
    for value in headers.values():
        if len(value) == 32:  # no signature, received or expected, is ever echoed
            assert value not in reason
    return reason


def test_published_check_value():
    assert callback_signature(URL, TS, KEY).startswith("c72b60894140fa98920f1279219b")
    assert md5_signature(URL, TS, KEY).startswith("c72b60894140fa98920f1279219b")


def test_a_signed_callback_is_accepted():
    assert verify(_headers(), url=URL, keys=[KEY], window=WINDOW, now=int(TS) + 5) is None


def test_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in _headers().items()}
    verify(headers, url=URL, keys=[KEY], window=WINDOW, now=int(TS))
    wsgi_style = {"X_VOD_TIMESTAMP": TS, "x-Vod-Signature": _headers()["X-VOD-SIGNATURE"]}
    verify(wsgi_style, url=URL, keys=[KEY], window=WINDOW, now=int(TS))


def test_upper_case_hex_signature_is_accepted():
    headers = _headers()
    headers["X-VOD-SIGNATURE"] = headers["X-VOD-SIGNATURE"].upper()
    verify(headers, url=URL, keys=[KEY], window=WINDOW, now=int(TS))


def test_wrong_signature_is_refused():
    reason = _refused(_headers(key="otherKey9"))
    assert "does not match" in reason
    assert issubclass(CallbackAuthError, VodaiError)


def test_signature_for_another_url_is_refused():
    assert "does not match" in _refused(_headers(url=URL + "?region=cn-beijing"))


@pytest.mark.parametrize("missing", ["X-VOD-TIMESTAMP", "X-VOD-SIGNATURE"])
def test_missing_header_is_refused(missing):
    headers = _headers()
    del headers[missing]
    assert _refused(headers) == f"{missing} header missing"
    headers[missing] = "  "
    assert _refused(headers) == f"{missing} header missing"


@pytest.mark.parametrize("ts", ["151937599", "15193759900", "1519375990.5", "-519375990", "\u0661" * 10, "abcdefghij"])
def test_timestamp_that_is_not_ten_digits_is_refused(ts):
    headers = _headers(ts=ts)
    assert "10 digits" in _refused(headers)


def test_malformed_signature_is_refused():
    headers = _headers()
    headers["X-VOD-SIGNATURE"] = "not-a-signature"
    assert "32 hexadecimal" in _refused(headers)


def test_captured_callback_replayed_after_the_window_is_refused():
    captured = _headers()
    verify(captured, url=URL, keys=[KEY], window=WINDOW, now=int(TS) + WINDOW)  # the edge is inside
    reason = _refused(captured, now=int(TS) + WINDOW + 1)
    assert "old" in reason and "window" in reason
    assert "old" in _refused(captured, now=int(TS) + 86400)


def test_future_timestamp_beyond_the_window_is_refused():
    headers = _headers()
    verify(headers, url=URL, keys=[KEY], window=WINDOW, now=int(TS) - WINDOW)
    assert "future" in _refused(headers, now=int(TS) - WINDOW - 1)


def test_no_keys_refuses_everything():
    assert "no auth key" in _refused(_headers(), keys=())


def test_rotation_accepts_old_and_new_key_and_refuses_a_third():
    keys = ["oldKey111", "newKey222"]
    for key in keys:
        verify(_headers(key=key), url=URL, keys=keys, window=WINDOW, now=int(TS))
    assert "does not match" in _refused(_headers(key="thirdKey333"), keys=keys)


def test_every_key_is_compared_even_when_the_first_matches(monkeypatch):
    compared = []
    real = auth.hmac.compare_digest

    def counting(a, b):
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    keys = ["oldKey111", "newKey222", "spareKey3"]
    verify(_headers(key="oldKey111"), url=URL, keys=keys, window=WINDOW, now=int(TS))
    assert len(compared) == len(keys)
    compared.clear()
    _refused(_headers(key="wrong"), keys=keys)
    assert len(compared) == len(keys)


def test_signed_url_uses_the_request_query_when_there_is_one():
    configured = "https://cb.example.com/vod/callback?region=cn-shanghai"
    assert signed_url(configured, "") == configured
    assert signed_url(configured, "region=cn-shanghai") == configured
    assert signed_url(configured, "region=cn-beijing") == "https://cb.example.com/vod/callback?region=cn-beijing"
    assert signed_url("https://cb.example.com/cb", "region=ap-southeast-1") == "https://cb.example.com/cb?region=ap-southeast-1"


def test_query_region():
    assert query_region("https://cb.example.com/cb?a=1&Region=cn-beijing") == "cn-beijing"
    assert query_region("region=ap-southeast-1") == "ap-southeast-1"
    assert query_region("https://cb.example.com/cb") is None
    assert query_region("region=") is None
