"""Verification of the three Alibaba signing schemes the emulator accepts.

Every signature is recomputed with :mod:`vodai.signing` (the same functions the clients use),
never with a second implementation, so the emulator and the clients cannot drift apart
silently: the official-SDK tests are what catches a shared mistake.

Checks run in the order a caller can act on: who (key), proof (signature), STS token,
freshness (timestamp), replay (nonce). A bad signature does not burn a nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Mapping, Optional, Sequence, Tuple

from vodai.signing import acs3, mns, rpc

from .backend import Credentials, EmulatorBackend
from .errors import EmulatorError, invalid_parameter, missing_parameter
from .request import EmulatorRequest

MAX_SKEW_SECONDS = 15 * 60
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# The gateway's wording; the text after "is:" is the server's string to sign, which the
# legacy aliyunsdkcore compares with its own (a match there means: wrong secret).
_SIGNATURE_MISMATCH = (
    "Specified signature is not matched with our calculation. server string to sign is:"
)


# -- VOD (RPC V1 and V3 ACS3-HMAC-SHA256) ------------------------------------------------


def verify_vod(
    backend: EmulatorBackend, request: EmulatorRequest, pairs: Sequence[Tuple[str, str]]
) -> Optional[str]:
    """Authenticate a VOD request; returns its AccessKeyId.

    Parameters
    ----------
    backend
        Holds the credentials and the nonces seen.
    request
        The request as received.
    pairs
        Its query and form-body parameters as received, in order and with repeats: RPC V1
        is verified over exactly these, so a repeated name cannot hide behind a signed one.

    Returns
    -------
    str or None
        The AccessKeyId (None only when checks are off and the request names none).
    """
    authorization = request.headers.get("Authorization", "")
    is_v3 = authorization.split(" ", 1)[0] == acs3.ALGORITHM
    if not backend.verify_signatures:
        return _claimed_v3_key(authorization) if is_v3 else dict(pairs).get("AccessKeyId")
    if is_v3:
        return _verify_acs3(backend, request, authorization)
    return _verify_rpc(backend, request, pairs)


def _verify_rpc(
    backend: EmulatorBackend, request: EmulatorRequest, pairs: Sequence[Tuple[str, str]]
) -> str:
    params = dict(pairs)
    for name in ("AccessKeyId", "Signature", "Timestamp", "SignatureNonce"):
        if not params.get(name):
            raise missing_parameter(name)
    _check_rpc_method(params)
    creds = _vod_credentials(backend, params["AccessKeyId"])
    expected = rpc.sign(request.method, pairs, creds.access_key_secret)
    if not hmac.compare_digest(expected, params["Signature"]):
        raise EmulatorError(
            400,
            "SignatureDoesNotMatch",
            _SIGNATURE_MISMATCH + rpc.string_to_sign(request.method, pairs),
        )
    _check_vod_token(creds, params.get("SecurityToken"))
    _check_vod_timestamp(params["Timestamp"])
    _check_nonce(backend, creds, params["SignatureNonce"])
    return creds.access_key_id


def _check_rpc_method(params: Mapping[str, str]) -> None:
    # Checked before the signature: it says how to verify. Codes unconfirmed; the gateway's
    # generic parameter errors are the plausible answer.
    for name, expected in (
        ("SignatureMethod", rpc.SIGNATURE_METHOD),
        ("SignatureVersion", rpc.SIGNATURE_VERSION),
    ):
        value = params.get(name)
        if not value:
            raise missing_parameter(name)
        if value != expected:
            raise invalid_parameter(name, f"It must be {expected}, not {value!r}.")


def _verify_acs3(backend: EmulatorBackend, request: EmulatorRequest, authorization: str) -> str:
    try:
        parts = acs3.parse_authorization(authorization)
    except ValueError as exc:
        raise _incomplete_signature(str(exc)) from exc
    signed = [name for name in parts["SignedHeaders"].lower().split(";") if name]
    # host and every x-acs-* header must be covered, or a proxy could swap the action,
    # the token or the date without breaking the signature.
    unsigned = sorted(
        name.lower()
        for name in request.headers
        if (name.lower() == "host" or name.lower().startswith("x-acs-"))
        and name.lower() not in signed
    )
    if unsigned:
        raise _incomplete_signature(f"header(s) {', '.join(unsigned)} must be signed")
    for name in ("x-acs-date", "x-acs-signature-nonce"):
        if not request.headers.get(name):
            raise missing_parameter(name)

    creds = _vod_credentials(backend, parts["Credential"])
    body_sha256 = hashlib.sha256(request.body).hexdigest()
    claimed = request.headers.get("x-acs-content-sha256")
    if claimed is not None and claimed.lower() != body_sha256:
        # Unconfirmed wording; the real gateway also refuses a body that does not match.
        raise EmulatorError(
            400, "SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the body."
        )
    canonical = acs3.canonical_request(
        request.method, request.path, request.query_pairs, request.headers, signed, body_sha256
    )
    if not hmac.compare_digest(acs3.signature(creds.access_key_secret, canonical), parts["Signature"]):
        raise EmulatorError(
            400, "SignatureDoesNotMatch", _SIGNATURE_MISMATCH + acs3.string_to_sign(canonical)
        )
    _check_vod_token(creds, request.headers.get("x-acs-security-token"))
    _check_vod_timestamp(request.headers["x-acs-date"])
    _check_nonce(backend, creds, request.headers["x-acs-signature-nonce"])
    return creds.access_key_id


def _claimed_v3_key(authorization: str) -> Optional[str]:
    try:
        return acs3.parse_authorization(authorization)["Credential"]
    except ValueError:
        return None


def _incomplete_signature(reason: str) -> EmulatorError:
    # Code from Alibaba's common gateway errors; the reason suffix is the emulator's own.
    return EmulatorError(
        400,
        "IncompleteSignature",
        f"The request signature does not conform to Aliyun standards: {reason}.",
    )


def _vod_credentials(backend: EmulatorBackend, access_key_id: str) -> Credentials:
    creds = backend.credentials(access_key_id)
    if creds is None:
        raise EmulatorError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return creds


def _check_vod_token(creds: Credentials, token: Optional[str]) -> None:
    # The codes are the gateway's STS codes as far as we know (unconfirmed statuses).
    if creds.security_token is None:
        if token:
            # A long-term key has no token: one sent with it is not its own.
            raise EmulatorError(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey: this AccessKey takes none.",
            )
        return
    if not token:
        raise EmulatorError(
            400, "MissingSecurityToken", "SecurityToken is mandatory for this AccessKey."
        )
    if not hmac.compare_digest(token, creds.security_token):
        raise EmulatorError(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )


def _check_vod_timestamp(value: str) -> None:
    try:
        stamp = datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise EmulatorError(
            400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
        ) from None
    if abs(datetime.now(UTC) - stamp).total_seconds() > MAX_SKEW_SECONDS:
        raise EmulatorError(
            400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
        )


def _check_nonce(backend: EmulatorBackend, creds: Credentials, nonce: str) -> None:
    if not backend.use_nonce(creds.access_key_id, nonce):
        raise EmulatorError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


# -- MNS ---------------------------------------------------------------------------------


def verify_mns(backend: EmulatorBackend, request: EmulatorRequest) -> Optional[str]:
    """Authenticate an MNS request (``Authorization: MNS id:sig``); returns its AccessKeyId."""
    authorization = request.headers.get("Authorization", "")
    if not backend.verify_signatures:
        return _claimed_mns_key(authorization)
    if not authorization:
        raise EmulatorError(400, "MissingAuthorizationHeader", "Authorization header is required.")
    try:
        access_key_id, signature = mns.parse_authorization(authorization)
    except ValueError:
        raise EmulatorError(
            400, "InvalidAuthorizationHeader", "The Authorization header format is invalid."
        ) from None
    date = request.headers.get("Date")
    if not date:
        raise EmulatorError(400, "MissingDateHeader", "Date header is required.")
    creds = backend.credentials(access_key_id)
    if creds is None:
        raise EmulatorError(403, "InvalidAccessKeyId", "The AccessKey Id you provided is not exist.")
    resource = request.path + (f"?{request.query_string}" if request.query_string else "")
    expected = mns.sign(request.method, resource, request.headers, creds.access_key_secret)
    if not hmac.compare_digest(expected, signature):
        raise EmulatorError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    _check_mns_token(creds, request)
    _check_content_md5(request)
    _check_mns_date(date)
    return creds.access_key_id


def _claimed_mns_key(authorization: str) -> Optional[str]:
    try:
        return mns.parse_authorization(authorization)[0]
    except ValueError:
        return None


def _check_mns_token(creds: Credentials, request: EmulatorRequest) -> None:
    # The Python SDK sends an unsigned ``security-token``; other SDKs a signed
    # ``x-mns-security-token``. Code and wording for a bad token are unconfirmed.
    token = request.headers.get("x-mns-security-token") or request.headers.get("security-token")
    if creds.security_token is None:
        if token:  # a long-term key has no token: one sent with it is not its own
            raise EmulatorError(
                403, "AccessDenied", "A security token was sent with an AccessKey Id that takes none."
            )
        return
    if not token or not hmac.compare_digest(token, creds.security_token):
        raise EmulatorError(
            403, "AccessDenied", "The security token is missing or does not match the AccessKey Id."
        )


def content_md5_forms(body: bytes) -> tuple[str, str]:
    """The ``Content-MD5`` values accepted for ``body``: base64 of the MD5 digest (RFC 1864)
    and base64 of its hex string (what the official Python SDK sends)."""
    digest = hashlib.md5(body)
    return (
        base64.b64encode(digest.digest()).decode("ascii"),
        base64.b64encode(digest.hexdigest().encode("ascii")).decode("ascii"),
    )


def _check_content_md5(request: EmulatorRequest) -> None:
    # The signature covers the header, not the body: without this a body could be swapped.
    claimed = request.headers.get("Content-MD5")
    if claimed is None:
        return  # optional in MNS's API
    if not any(hmac.compare_digest(claimed.strip(), form) for form in content_md5_forms(request.body)):
        # Code and wording unconfirmed: InvalidDigest is what OSS answers for the same fault.
        raise EmulatorError(
            400, "InvalidDigest", "The Content-MD5 header does not match the MD5 of the message body."
        )


def _check_mns_date(value: str) -> None:
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise EmulatorError(400, "InvalidDateHeader", "The Date header format is invalid.") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - stamp).total_seconds() > MAX_SKEW_SECONDS:
        raise EmulatorError(408, "TimeExpired", "The http request you sent is expired.")
