"""Removing secret values from text that leaves vodai (errors, logs, dead letters)."""

from __future__ import annotations

from typing import Iterable

from .exceptions import ConfigError
from .signing import percent_encode

MASK = "***"
#: Shorter secrets are refused at configuration: masking them would mangle ordinary words
#: ("cannot ***uild" for a secret "b") and such a value cannot be a real key anyway.
MIN_SECRET_LENGTH = 8


def check_secret(setting: str, value: str) -> None:
    """Refuse a secret too short to tell apart from ordinary text in logs and errors.

    Parameters
    ----------
    setting
        What the value is called where the user set it, e.g. ``VODAI_CALLBACK_AUTH_KEY``.
    value
        The secret.

    Raises
    ------
    ConfigError
        When ``value`` is shorter than :data:`MIN_SECRET_LENGTH` characters. The message gives
        the length, never the value.
    """
    if len(value) < MIN_SECRET_LENGTH:
        count = f"{len(value)} character{'s' if len(value) != 1 else ''}"
        raise ConfigError(setting, f"{count} is too short for a secret: at least {MIN_SECRET_LENGTH} are needed, "
                                   "so that masking it cannot mangle ordinary text (set the real value)")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret, whole, replaced by ``***``.

    Needed because a service may echo secrets back: VOD's SignatureDoesNotMatch message repeats
    the string to sign, which holds the STS token of a V1-signed request, percent-encoded once or
    twice. The longest values go first, so a secret holding another is masked whole.
    """
    values: set = set()
    for secret in secrets:
        if secret:
            encoded = percent_encode(secret)
            values.update((secret, encoded, percent_encode(encoded)))
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
