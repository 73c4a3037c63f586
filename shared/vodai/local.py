"""Running the handler on this machine: against the in-process emulator (default) or the cloud.

Used by ``vodai invoke`` and ``vodai replay``. The emulator target needs no account: it makes
one-off STS credentials, registers them with an in-process emulator, and signs real requests
that the emulator verifies, exactly as the cloud would. Both targets run ``vodai.handler.run``,
the code the FC handler runs.

Which store and namespace each command records into (one rule: the namespace follows the VOD
endpoint, :attr:`vodai.config.Settings.namespace`; the store is ``VODAI_IDEMPOTENCY_STORE`` when set):

===========================  ===========================================  =======================
command                      store when VODAI_IDEMPOTENCY_STORE is unset  namespace
===========================  ===========================================  =======================
invoke, invoke --via-http    a memory store for the run                   <prefix>:emulator
invoke --cloud (--via-http)  SQLite under .vodai/                         <prefix>
replay                       SQLite under .vodai/                         <prefix>:emulator
replay --cloud               SQLite under .vodai/                         <prefix>
serve, jobs                  SQLite under .vodai/                         from VODAI_VOD_ENDPOINT
deployed function            SQLite under /tmp/vodai (set redis://)       <prefix>
===========================  ===========================================  =======================
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Mapping, Optional, Sequence

import requests

from .config import Settings
from .credentials import Credentials
from .handler import run
from .local_context import LocalContext, LocalCredentials
from .pipeline import Decided, InvocationResult
from .routing.rules import RouteTable, load_table

if TYPE_CHECKING:
    from .deadletter import DeadLetterSink

EMULATOR_URL = "http://emulator.vodai.local"
# Values the emulator target fills in when the user has not set them: it needs no real templates.
EMULATOR_DEFAULTS = {
    "ai_template_id": "emulator-ai-template",
    "audit_template_id": "emulator-audit-template",
    "callback_topic": "vodai-callback",
}


@dataclass
class LocalTarget:
    settings: Settings
    routes: RouteTable
    context: LocalContext
    session: Optional[requests.Session] = None
    backend: Any = None  # the in-process emulator backend, when the target is the emulator
    secrets: list = field(default_factory=list)
    owns_session: bool = field(default=False, repr=False)  # made by limit_connections: closed by close()
    # Where each new context's credentials come from (the cloud target's chain), FC 2.0's way.
    credentials: Optional[Callable[[], Credentials]] = field(default=None, repr=False)
    # Where dead letters go instead of VODAI_DEAD_LETTERS's sink (a drain of that queue: see vodai.replay.drain).
    dead_letters: Optional["DeadLetterSink"] = None
    # invoke() runs in this process, so it can take what the caller decided already (replay's plan).
    takes_decided: ClassVar[bool] = True

    def new_context(self) -> LocalContext:
        """A context for one invocation: same function and credentials, a new request id."""
        context = dataclasses.replace(self.context, request_id=str(uuid.uuid4()))  # as LocalContext() makes one
        if self.credentials is not None:
            creds = self.credentials()
            context.credentials = LocalCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token)
        return context

    def limit_connections(self, n: int) -> bool:
        """Send over a session of its own that keeps at most ``n`` connections per endpoint, a request
        waiting for a free one. False when nothing is bounded that way: the in-process emulator
        (no connections) or a session the caller passed in (theirs to configure)."""
        if self.backend is not None or self.session is not None:
            return False
        from .clients.session import new_session

        self.session, self.owns_session = new_session(connections=n, block=True), True
        return True

    def close(self) -> None:
        if self.owns_session and self.session is not None:
            self.session.close()

    def invoke(self, raw: bytes, context: Optional[LocalContext] = None, *,
               decided: Optional[Sequence[Decided]] = None) -> InvocationResult:
        """One invocation of the handler. ``decided``: ``decide_all(raw, ...)`` with this target's
        settings, routes and this context, made by the caller first (see ``dispatch``)."""
        return run(raw, context or self.new_context(), settings=self.settings, routes=self.routes, session=self.session,
                   decided=decided, dead_letters=self.dead_letters)


def emulator_variables(environ: Optional[Mapping[str, str]], url: str, *, store_url: Optional[str] = None) -> Dict[str, str]:
    """The ``VODAI_*`` variables a run on a built-in emulator at ``url`` sets over the user's.

    The one rule for the emulator targets (``vodai invoke`` in process or ``--via-http``, ``vodai
    replay``): VOD and MNS go to the emulator, which makes every record's namespace
    ``<prefix>:emulator`` (:attr:`vodai.config.Settings.namespace`); templates and topic get
    stand-ins when unset; the job store is ``VODAI_IDEMPOTENCY_STORE`` when set, else ``store_url``,
    else a new memory store (an emulator that lives for one run knows no job of an earlier run).
    """
    env = os.environ if environ is None else environ
    variables = {"VODAI_VOD_ENDPOINT": url, "VODAI_MNS_ENDPOINT": url}
    for name, value in EMULATOR_DEFAULTS.items():
        if not env.get("VODAI_" + name.upper(), "").strip():
            variables["VODAI_" + name.upper()] = value
    if not env.get("VODAI_IDEMPOTENCY_STORE", "").strip():
        variables["VODAI_IDEMPOTENCY_STORE"] = store_url or "memory://" + secrets.token_hex(8)
    return variables


def emulator_target(environ: Optional[Mapping[str, str]] = None, *, store_url: Optional[str] = None) -> LocalTarget:
    """The handler against a fresh in-process emulator, with the settings of
    :func:`emulator_variables`. ``vodai replay`` passes the default SQLite store as ``store_url``,
    so that replaying the same events twice submits nothing new.
    """
    from .clients.session import new_session
    from .emulator import EmulatorBackend, mount

    env = os.environ if environ is None else environ
    settings = Settings.from_env({**env, **emulator_variables(env, EMULATOR_URL, store_url=store_url)})
    creds = LocalCredentials("STS.emulator" + secrets.token_hex(6), secrets.token_urlsafe(24), secrets.token_urlsafe(32))
    backend = EmulatorBackend()
    backend.add_credentials(creds.access_key_id, creds.access_key_secret, security_token=creds.security_token)
    backend.create_topic(settings.callback_topic or EMULATOR_DEFAULTS["callback_topic"])
    session = new_session()
    mount(backend, session)
    context = LocalContext(region=settings.region or "cn-shanghai", credentials=creds)
    return LocalTarget(settings, load_table(settings.routes), context, session, backend,
                       [creds.access_key_secret, creds.security_token])


def cloud_target(environ: Optional[Mapping[str, str]] = None, *, profile: Optional[str] = None,
                 credentials: Optional[Callable[[], Credentials]] = None) -> LocalTarget:
    """The handler against the configured (by default the real) VOD and MNS endpoints.

    Parameters
    ----------
    environ
        The settings' variables (default: ``os.environ``).
    profile
        A profile of the Alibaba Cloud CLI's ``~/.aliyun/config.json`` to take the credentials from.
    credentials
        Where each invocation's credentials come from; default: the standard Alibaba Cloud
        credential chain (:mod:`vodai.credential_chain`), asked once now.

    Raises
    ------
    ConfigError
        A setting is invalid, or no credentials are found.
    """
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    routes = load_table(settings.routes)
    if credentials is None:
        from .credential_chain import credentials_source

        credentials = credentials_source(profile)
    context = LocalContext(region=settings.region or env.get("ALIBABA_CLOUD_REGION_ID") or "cn-shanghai",
                           account_id=settings.account_id or "", credentials=None)
    return LocalTarget(settings, routes, context, credentials=credentials)
