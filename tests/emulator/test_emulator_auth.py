"""Signature verification of VOD's two schemes (RPC V1 and V3), STS tokens, time and nonces."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest

from vodai.emulator import EmulatorBackend
from vodai.signing import rpc

from .helpers import (
    AK,
    SECRET,
    STS_AK,
    STS_SECRET,
    STS_TOKEN,
    VOD_HOST,
    nonce,
    send_v1,
    v1,
    v1_params,
    v3,
    vod_timestamp,
)

SUBMIT = {"Action": "SubmitAIImageJob", "VideoId": "video-1", "AITemplateId": "tpl-1"}
QUERY = {"VideoId": "video-1", "AITemplateId": "tpl-1"}


def code(response) -> str:
    return response.json()["Code"]


# -- RPC signature V1 ----------------------------------------------------------------------


def test_v1_matches_the_published_example():
    # Alibaba's published check, so the shared signer this emulator relies on is right.
    params = {
        "AccessKeyId": "testid", "Action": "DescribeDedicatedHosts", "Format": "JSON",
        "RegionId": "cn-beijing", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb", "SignatureVersion": "1.0",
        "Timestamp": "2023-03-13T08:34:30Z", "Version": "2014-05-26",
    }
    assert rpc.sign("GET", params, "testsecret") == "9NaGiOspFP5UPcwX8Iwt2YJXXuk="


def test_v1_wrong_secret(session, backend: EmulatorBackend):
    params = v1_params(SUBMIT, secret="not-the-secret")
    response = send_v1(session, params)

    assert (response.status_code, code(response)) == (400, "SignatureDoesNotMatch")
    # The server's string to sign follows "is:", where the legacy SDK looks for it.
    assert response.json()["Message"].split("is:", 1)[1] == rpc.string_to_sign("POST", params)
    assert backend.jobs() == []


def test_v1_tampered_parameter(session):
    params = v1_params(SUBMIT)
    params["VideoId"] = "another-video"
    assert code(send_v1(session, params)) == "SignatureDoesNotMatch"


def test_v1_is_verified_with_the_request_method(session):
    params = v1_params(SUBMIT, method="GET")
    assert code(send_v1(session, params, method="POST")) == "SignatureDoesNotMatch"


def test_v1_unknown_access_key(session):
    response = v1(session, SUBMIT, ak="nobody")
    assert (response.status_code, code(response)) == (404, "InvalidAccessKeyId.NotFound")
    assert response.json()["Message"] == "Specified access key is not found."


@pytest.mark.parametrize("name", ["Signature", "AccessKeyId", "Timestamp", "SignatureNonce"])
def test_v1_requires_the_common_parameters(session, name: str):
    params = v1_params(SUBMIT)
    del params[name]
    response = send_v1(session, params)
    assert (response.status_code, code(response)) == (400, "MissingParameter")
    assert f'"{name}"' in response.json()["Message"]


@pytest.mark.parametrize("offset", [timedelta(minutes=-16), timedelta(minutes=16)])
def test_v1_timestamp_more_than_15_minutes_off(session, offset: timedelta):
    response = v1(session, SUBMIT, timestamp=vod_timestamp(offset))
    assert (response.status_code, code(response)) == (400, "InvalidTimeStamp.Expired")


def test_v1_timestamp_within_15_minutes(session):
    assert v1(session, SUBMIT, timestamp=vod_timestamp(timedelta(minutes=-14))).status_code == 200


def test_v1_malformed_timestamp(session):
    response = v1(session, SUBMIT, timestamp="2024-01-01 10:00:00")
    assert (response.status_code, code(response)) == (400, "InvalidTimeStamp.Format")


def test_v1_reused_nonce(session):
    used = nonce()
    assert v1(session, SUBMIT, signature_nonce=used).status_code == 200
    response = v1(session, SUBMIT, signature_nonce=used)
    assert (response.status_code, code(response)) == (400, "SignatureNonceUsed")


def test_a_bad_signature_does_not_burn_the_nonce(session):
    used = nonce()
    assert code(v1(session, SUBMIT, signature_nonce=used, secret="wrong")) == "SignatureDoesNotMatch"
    assert v1(session, SUBMIT, signature_nonce=used).status_code == 200


def test_v1_sts_token(session):
    response = v1(session, SUBMIT, ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN)
    assert response.status_code == 200, response.text


def test_v1_sts_token_required(session):
    response = v1(session, SUBMIT, ak=STS_AK, secret=STS_SECRET)
    assert (response.status_code, code(response)) == (400, "MissingSecurityToken")


def test_v1_sts_token_mismatch(session):
    response = v1(session, SUBMIT, ak=STS_AK, secret=STS_SECRET, token="other-token")
    assert (response.status_code, code(response)) == (400, "InvalidSecurityToken.MismatchWithAccessKey")


def test_v1_token_with_a_key_that_has_none_is_refused(session, backend: EmulatorBackend):
    # Signed with the token, so only the token check can refuse it.
    response = v1(session, SUBMIT, token="made-up-token")
    assert (response.status_code, code(response)) == (400, "InvalidSecurityToken.MismatchWithAccessKey")
    assert backend.jobs() == []


@pytest.mark.parametrize(("name", "value"), [("SignatureMethod", "HMAC-SHA256"), ("SignatureVersion", "2.0")])
def test_v1_signature_method_and_version_are_checked(session, backend: EmulatorBackend, name: str, value: str):
    params = {**v1_params(SUBMIT), name: value}
    params["Signature"] = rpc.sign("POST", params, SECRET)  # signed as sent: only the value is wrong
    response = send_v1(session, params)
    assert (response.status_code, code(response)) == (400, "InvalidParameter")
    assert f'"{name}"' in response.json()["Message"]
    assert backend.jobs() == []


@pytest.mark.parametrize("name", ["SignatureMethod", "SignatureVersion"])
def test_v1_signature_method_and_version_are_required(session, name: str):
    params = v1_params(SUBMIT)
    del params[name]
    params["Signature"] = rpc.sign("POST", params, SECRET)
    response = send_v1(session, params)
    assert (response.status_code, code(response)) == (400, "MissingParameter")
    assert f'"{name}"' in response.json()["Message"]


def _query(params) -> str:
    return urlencode(params, quote_via=quote)


def test_v1_parameter_repeated_in_front_is_refused(session, backend: EmulatorBackend):
    # The later copy used to win when the query was read into a dict.
    params = v1_params(SUBMIT)
    response = session.post(f"https://{VOD_HOST}/?VideoId=attacker&{_query(params)}")
    assert (response.status_code, code(response)) == (400, "SignatureDoesNotMatch")
    assert backend.jobs() == []


def test_v1_parameter_repeated_after_is_refused(session, backend: EmulatorBackend):
    params = v1_params(SUBMIT)
    response = session.post(f"https://{VOD_HOST}/?{_query(params)}&VideoId=attacker")
    assert (response.status_code, code(response)) == (400, "SignatureDoesNotMatch")
    assert backend.jobs() == []


def test_v1_parameter_repeated_in_query_and_form_is_refused(session, backend: EmulatorBackend):
    params = v1_params(SUBMIT)
    response = session.post(f"https://{VOD_HOST}/?{_query(params)}", data={"VideoId": "attacker"})
    assert code(response) == "SignatureDoesNotMatch"
    assert backend.jobs() == []


def test_v1_repeated_parameter_is_refused_even_when_both_copies_are_signed(session, backend: EmulatorBackend):
    pairs = [("VideoId", "attacker"), *v1_params(SUBMIT).items()]
    pairs = [(k, v) for k, v in pairs if k != "Signature"]
    pairs.append(("Signature", rpc.sign("POST", pairs, SECRET)))
    response = session.post(f"https://{VOD_HOST}/?{_query(pairs)}")
    assert (response.status_code, code(response)) == (400, "InvalidParameter")
    assert '"VideoId"' in response.json()["Message"]
    assert backend.jobs() == []


def test_v1_reordered_parameters_still_verify(session):
    # RPC V1 signs the sorted parameters: the order on the wire is free.
    params = v1_params(SUBMIT)
    response = session.post(f"https://{VOD_HOST}/?{_query(list(reversed(params.items())))}")
    assert response.status_code == 200, response.text


def test_signature_checks_can_be_switched_off(session, backend: EmulatorBackend):
    backend.verify_signatures = False
    response = send_v1(session, {**SUBMIT, "AccessKeyId": "anyone", "Signature": "junk"})
    assert response.status_code == 200, response.text
    assert backend.requests_log()[-1]["access_key_id"] == "anyone"


# -- V3 ACS3-HMAC-SHA256 -------------------------------------------------------------------


def test_v3_success_with_spaces_sent_as_plus(session, backend: EmulatorBackend):
    # The official SDK encodes spaces as '+'; the signature covers the decoded value.
    response = v3(
        session, "SubmitAIImageJob", {"VideoId": "a b", "AITemplateId": "t"},
        raw_query="VideoId=a+b&AITemplateId=t",
    )
    assert response.status_code == 200, response.text
    assert backend.get_job(response.json()["JobId"])["VideoId"] == "a b"


def test_v3_wrong_secret(session):
    response = v3(session, "SubmitAIImageJob", QUERY, secret="wrong")
    assert (response.status_code, code(response)) == (400, "SignatureDoesNotMatch")


def test_v3_tampered_query(session):
    response = v3(
        session, "SubmitAIImageJob", QUERY, raw_query="VideoId=other&AITemplateId=tpl-1"
    )
    assert code(response) == "SignatureDoesNotMatch"


def test_v3_parameter_repeated_in_front_is_refused(session, backend: EmulatorBackend):
    response = v3(
        session, "SubmitAIImageJob", QUERY, raw_query=f"VideoId=attacker&{_query(QUERY)}"
    )
    assert (response.status_code, code(response)) == (400, "SignatureDoesNotMatch")
    assert backend.jobs() == []


def test_v3_repeated_parameter_is_refused_even_when_both_copies_are_signed(session, backend: EmulatorBackend):
    pairs = [("VideoId", "attacker"), *QUERY.items()]
    response = v3(session, "SubmitAIImageJob", pairs, raw_query=_query(pairs))
    assert (response.status_code, code(response)) == (400, "InvalidParameter")
    assert backend.jobs() == []


def test_v3_tampered_signed_header(session):
    response = v3(
        session, "SubmitAIImageJob", QUERY, extra_headers={"x-acs-action": "GetAIImageJobs"}
    )
    assert code(response) == "SignatureDoesNotMatch"


def test_v3_unsigned_acs_header_is_refused(session):
    response = v3(
        session, "SubmitAIImageJob", QUERY, token=None,
        extra_headers={"x-acs-security-token": "smuggled"},
    )
    assert (response.status_code, code(response)) == (400, "IncompleteSignature")


def test_v3_host_must_be_signed(session):
    signed = ["x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]
    response = v3(session, "SubmitAIImageJob", QUERY, signed_headers=signed)
    assert code(response) == "IncompleteSignature"


def test_v3_malformed_authorization(session):
    response = v3(session, "SubmitAIImageJob", QUERY, extra_headers={"Authorization": "ACS3-HMAC-SHA256 junk"})
    assert (response.status_code, code(response)) == (400, "IncompleteSignature")


def test_v3_body_must_match_its_sha256(session):
    response = v3(session, "SubmitAIImageJob", QUERY, body=b"x=1", content_sha256="0" * 64)
    assert code(response) == "SignatureDoesNotMatch"


def test_v3_signs_a_form_body(session, backend: EmulatorBackend):
    response = v3(
        session, "SubmitAIImageJob", {"VideoId": "video-9"}, body=b"AITemplateId=tpl-9",
        extra_headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert backend.get_job(response.json()["JobId"])["TemplateId"] == "tpl-9"


def test_v3_unknown_access_key(session):
    response = v3(session, "SubmitAIImageJob", QUERY, ak="nobody")
    assert (response.status_code, code(response)) == (404, "InvalidAccessKeyId.NotFound")


def test_v3_date_more_than_15_minutes_off(session):
    response = v3(session, "SubmitAIImageJob", QUERY, date=vod_timestamp(timedelta(minutes=-20)))
    assert (response.status_code, code(response)) == (400, "InvalidTimeStamp.Expired")


def test_v3_reused_nonce(session):
    used = nonce()
    assert v3(session, "SubmitAIImageJob", QUERY, signature_nonce=used).status_code == 200
    assert code(v3(session, "SubmitAIImageJob", QUERY, signature_nonce=used)) == "SignatureNonceUsed"


def test_nonces_are_per_access_key(session):
    used = nonce()
    assert v3(session, "SubmitAIImageJob", QUERY, signature_nonce=used).status_code == 200
    response = v3(
        session, "SubmitAIImageJob", QUERY, signature_nonce=used,
        ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN,
    )
    assert response.status_code == 200, response.text


def test_v3_sts_token(session):
    response = v3(session, "SubmitAIImageJob", QUERY, ak=STS_AK, secret=STS_SECRET, token=STS_TOKEN)
    assert response.status_code == 200, response.text


def test_v3_sts_token_required(session):
    response = v3(session, "SubmitAIImageJob", QUERY, ak=STS_AK, secret=STS_SECRET)
    assert code(response) == "MissingSecurityToken"


def test_v3_sts_token_mismatch(session):
    response = v3(session, "SubmitAIImageJob", QUERY, ak=STS_AK, secret=STS_SECRET, token="nope")
    assert code(response) == "InvalidSecurityToken.MismatchWithAccessKey"


def test_v3_without_v1_parameters_is_not_mistaken_for_v1(session):
    # A V3 request carries no Signature/AccessKeyId parameters; it must not be asked for them.
    response = v3(session, "GetAIImageJobs", {"JobIds": "x"})
    assert response.status_code == 200, response.text


def test_credentials_are_looked_up_per_key(session, backend: EmulatorBackend):
    backend.add_credentials(AK, "rotated-secret")
    assert code(v1(session, SUBMIT, secret=SECRET)) == "SignatureDoesNotMatch"
    assert v1(session, SUBMIT, secret="rotated-secret").status_code == 200
