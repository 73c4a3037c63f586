"""AccessKey credentials: from the FC context, else from the standard environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .exceptions import ConfigError
from .redaction import check_secret

ENV_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AccessKey pair and, for STS credentials, the security token."""

    access_key_id: str
    # repr=False: a credentials object printed in a log or a traceback shows no secret.
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)

    def secrets(self) -> list:
        """The values that must never appear in any output (used by redaction and tests)."""
        return [s for s in (self.access_key_secret, self.security_token) if s]


_IS_MAPPING: dict = {dict: True}  # type -> is it a Mapping (the ABC check, once per type)


def _reader(obj: Any):
    """A ``name -> value`` reader for a mapping or an object (decided once per type: an ABC
    isinstance check cost more than the rest of reading the credentials, on every invocation)."""
    kind = type(obj)
    is_mapping = _IS_MAPPING.get(kind)
    if is_mapping is None:
        is_mapping = _IS_MAPPING[kind] = isinstance(obj, Mapping)
    if is_mapping:
        return obj.get
    return lambda name: getattr(obj, name, None)


def _attr(read, *names: str) -> Optional[str]:
    for name in names:
        value = read(name)
        if value:
            return str(value)
    return None


def from_context(context: Any) -> Optional[Credentials]:
    """FC 2.0 passes the service role's STS credentials as ``context.credentials``; FC 3.0 does not."""
    creds = getattr(context, "credentials", None) if context is not None else None
    if creds is None:
        return None
    read = _reader(creds)
    ak = _attr(read, "access_key_id", "accessKeyId")
    secret = _attr(read, "access_key_secret", "accessKeySecret")
    if not ak or not secret:
        return None
    return Credentials(ak, secret, _attr(read, "security_token", "securityToken"))


def from_env(environ: Optional[Mapping[str, str]] = None) -> Optional[Credentials]:
    env = os.environ if environ is None else environ
    ak, secret = env.get(ENV_ID), env.get(ENV_SECRET)
    if not ak or not secret:
        return None
    token = env.get(ENV_TOKEN) or None
    check_secret(ENV_SECRET, secret)
    if token is not None:
        check_secret(ENV_TOKEN, token)
    return Credentials(ak, secret, token)


def resolve(context: Any = None, environ: Optional[Mapping[str, str]] = None) -> Credentials:
    """The FC context's credentials (FC 2.0), else the environment (FC 3.0, local runs)."""
    creds = from_context(context) or from_env(environ)
    if creds is None:
        raise ConfigError(
            f"{ENV_ID}/{ENV_SECRET}",
            "no credentials: neither the FC context nor the environment provides an AccessKey",
        )
    return creds
