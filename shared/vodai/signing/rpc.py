"""RPC signature V1 (HMAC-SHA1): the classic signature of RPC-style OpenAPIs such as VOD.

StringToSign = METHOD & %2F & percent(sorted "k=v&..." of every parameter but Signature);
Signature    = base64(HMAC-SHA1(secret + "&", StringToSign)).
"""

from __future__ import annotations

import base64
from typing import Mapping, Optional

from ._encoding import Params, percent_encode
from ._encoding import canonical_query as _canonical_query
from ._hmac import hmac_digest

SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"


def canonical_query(params: Params) -> str:
    """Sorted, percent-encoded ``k=v`` pairs of every parameter but Signature."""
    return _canonical_query(params, exclude=("Signature",))


def string_to_sign(method: str, params: Params) -> str:
    return f"{method.upper()}&%2F&{percent_encode(canonical_query(params))}"


def sign(method: str, params: Params, secret: str) -> str:
    """The ``Signature`` parameter value for ``params`` (a mapping, or pairs as received) sent with ``method``."""
    digest = hmac_digest(secret + "&", string_to_sign(method, params), "sha1")
    return base64.b64encode(digest).decode("ascii")


def signed_params(
    params: Mapping[str, Optional[str]],
    *,
    method: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: Optional[str],
    timestamp: str,
    nonce: str,
) -> dict:
    """``params`` plus the common parameters and the Signature, ready to send."""
    out = {k: str(v) for k, v in params.items() if v is not None}
    out.update(
        AccessKeyId=access_key_id,
        SignatureMethod=SIGNATURE_METHOD,
        SignatureVersion=SIGNATURE_VERSION,
        SignatureNonce=nonce,
        Timestamp=timestamp,
    )
    if security_token:
        out["SecurityToken"] = security_token
    out["Signature"] = sign(method, out, access_key_secret)
    return out
