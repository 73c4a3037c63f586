"""Removing secret values from text that leaves vodai (errors, logs, dead letters)."""

from __future__ import annotations

from typing import Iterable

from .signing import percent_encode

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``.

    Needed because a service may echo secrets back: VOD's SignatureDoesNotMatch message repeats
    the string to sign, which holds the STS token of a V1-signed request.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
            # The echoed string to sign holds it percent-encoded, once or twice.
            encoded = percent_encode(secret)
            if encoded != secret:
                text = text.replace(encoded, MASK)
                text = text.replace(percent_encode(encoded), MASK)
    return text
