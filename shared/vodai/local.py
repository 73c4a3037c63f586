"""Running the pipeline on this machine: against the in-process emulator (default) or the cloud.

Used by ``vodai invoke`` (and later replay). The emulator target needs no account: it makes
one-off STS credentials, registers them with an in-process emulator, and signs real requests
that the emulator verifies, exactly as the cloud would.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .config import Settings
from .context import LocalContext, LocalCredentials
from .credentials import Credentials
from .pipeline import Dependencies, InvocationResult, build, dispatch

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
    deps: Dependencies
    context: LocalContext
    backend: Any = None  # the in-process emulator backend, when the target is the emulator
    secrets: list = field(default_factory=list)

    def invoke(self, raw: bytes) -> InvocationResult:
        return dispatch(raw, self.deps, context=self.context)


def emulator_target(environ: Optional[Mapping[str, str]] = None) -> LocalTarget:
    from .clients.session import new_session
    from .emulator import EmulatorBackend, mount

    base = Settings.from_env(environ)
    overrides = {k: v for k, v in EMULATOR_DEFAULTS.items() if getattr(base, k) is None}
    settings = base.model_copy(update={**overrides, "vod_endpoint": EMULATOR_URL, "mns_endpoint": EMULATOR_URL})
    creds = Credentials("STS.emulator" + secrets.token_hex(6), secrets.token_urlsafe(24), secrets.token_urlsafe(32))
    backend = EmulatorBackend()
    backend.add_credentials(creds.access_key_id, creds.access_key_secret, security_token=creds.security_token)
    backend.create_topic(settings.callback_topic)
    session = new_session()
    mount(backend, session)
    context = LocalContext(
        region=settings.region or "cn-shanghai",
        credentials=LocalCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token),
    )
    deps = build(settings, context=context, session=session)
    return LocalTarget(settings, deps, context, backend, creds.secrets())


def cloud_target(environ: Optional[Mapping[str, str]] = None) -> LocalTarget:
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    context = LocalContext(region=settings.region or env.get("ALIBABA_CLOUD_REGION_ID") or "cn-shanghai", credentials=None)
    context.account_id = settings.account_id or ""
    deps = build(settings, context=context)
    return LocalTarget(settings, deps, context)
