"""The standard Alibaba Cloud credential chain, for local runs against the cloud (``--cloud``).

Through Alibaba's own ``alibabacloud-credentials`` package (the ``tools`` extra): environment
variables, OIDC, the CLI's ``~/.aliyun/config.json`` profiles, ``~/.alibabacloud/credentials.ini``,
the ECS RAM role, a credentials URI. Never imported by the handler: on FC the context (FC 2.0)
or the environment (FC 3.0) gives the credentials (:mod:`vodai.credentials`).
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from .credentials import ENV_ID, ENV_SECRET, ENV_TOKEN, Credentials, from_env
from .exceptions import ConfigError
from .redaction import check_secret

NOT_FOUND = (f"no credentials found: set {ENV_ID} and {ENV_SECRET}, or run `aliyun configure` "
             "(--profile NAME for another profile than the current one), or run on ECS with a RAM role")


def credentials_source(profile: Optional[str] = None,
                       environ: Optional[Mapping[str, str]] = None) -> Callable[[], Credentials]:
    """A function returning the chain's current credentials (the package refreshes expiring
    ones); asked once here, so that missing credentials fail before any event is sent.

    Parameters
    ----------
    profile
        A profile of ``~/.aliyun/config.json`` to use alone; None: the whole default chain
        (whose CLI step uses ``ALIBABA_CLOUD_PROFILE``, else the file's current profile).
    environ
        Where the chain's first step reads ``ALIBABA_CLOUD_ACCESS_KEY_*`` (default: ``os.environ``).

    Returns
    -------
    callable
        ``() -> Credentials``; raises :class:`~vodai.exceptions.ConfigError` when none are found.
    """
    if profile is None:
        # The environment step, read now: the package reads the environment once, at its import.
        found_in_env = from_env(environ)
        if found_in_env is not None:
            return lambda: found_in_env
    from alibabacloud_credentials.exceptions import CredentialException
    from alibabacloud_credentials.provider import (
        CLIProfileCredentialsProvider,
        DefaultCredentialsProvider,
    )

    provider = CLIProfileCredentialsProvider(profile_name=profile) if profile else DefaultCredentialsProvider()
    where = f"--profile {profile}" if profile else ENV_ID

    def current() -> Credentials:
        try:
            found = provider.get_credentials()
        except CredentialException as exc:
            # The package's text names files and profiles, never a secret.
            raise ConfigError(where, f"{str(exc).rstrip('.')}: check the name (`aliyun configure list`)"
                              if profile else NOT_FOUND) from None
        secret, token = found.get_access_key_secret(), found.get_security_token() or None
        check_secret(f"{where} (AccessKey secret)" if profile else ENV_SECRET, secret)
        if token is not None:
            check_secret(f"{where} (security token)" if profile else ENV_TOKEN, token)
        return Credentials(found.get_access_key_id(), secret, token)

    current()
    return current
