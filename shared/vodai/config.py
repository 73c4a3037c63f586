"""Settings, read from ``VODAI_*`` environment variables into a pydantic model.

A plain model filled from ``os.environ`` rather than pydantic-settings: the latter adds about
0.3 s to the import, and the handler's cold start is billed.
"""

# No `from __future__ import annotations` in this module: pydantic would have to evaluate each
# annotation from its text when it creates the model classes, at every cold start.
import os
from typing import Dict, Iterable, List, Literal, Mapping, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .exceptions import ConfigError
from .redaction import check_secret

ENV_PREFIX = "VODAI_"
STORE_SCHEMES = ("sqlite", "redis", "rediss", "unix", "memory")
DEAD_LETTER_SCHEMES = ("file", "mns-queue", "mns-topic")
# FC 3.0's payload limits per invocation (fc-runtime reference): read as KiB and MiB, so that no
# delivery FC accepted is ever refused here.
ASYNC_PAYLOAD_LIMIT = 128 * 1024
SYNC_PAYLOAD_LIMIT = 32 * 1024 * 1024
#: ``VODAI_*`` variables that are not settings: read by bootstrap, the runtime shim and the CLI.
OTHER_VARIABLES = frozenset({"VODAI_FUNCTION", "VODAI_PYTHON", "VODAI_EMULATOR_URL", "VODAI_EMULATOR_CALLBACK_AUTH_KEY"})
#: Variables under this prefix belong to the test harness.
TEST_PREFIX = "VODAI_TEST_"
#: Suffix of the namespace of records made against anything but Alibaba Cloud's VOD (an emulator).
EMULATOR_NAMESPACE = "emulator"
#: Hosts under this domain are Alibaba Cloud's own endpoints (public, internal or VPC).
CLOUD_DOMAIN = "aliyuncs.com"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Region used when neither the envelope nor the file URL names one.
    region: Optional[str] = None
    #: SubmitAIImageJob's AITemplateId (a rules file can set it per region).
    ai_template_id: Optional[str] = None
    #: SubmitAIImageJob's optional AIPipelineId.
    ai_pipeline_id: Optional[str] = None
    #: SubmitAIImageAuditJob's TemplateId; unset, VOD uses the account's default template.
    audit_template_id: Optional[str] = None
    #: MediaAuditConfiguration.ResourceType for image audit (letters, digits, underscore).
    audit_resource_type: Optional[str] = None
    #: Path of a rules file (JSON or YAML) that replaces the default route table.
    routes: Optional[str] = None
    #: The MNS topic that receives one message per submitted job.
    callback_topic: Optional[str] = None
    #: Region of the callback topic; defaults to the function's region.
    mns_region: Optional[str] = None
    #: Account id for the MNS endpoint; defaults to the FC context's account id.
    account_id: Optional[str] = None
    #: Base URL overriding every VOD endpoint, e.g. http://127.0.0.1:9100 (the emulator).
    vod_endpoint: Optional[str] = None
    #: Base URL overriding the MNS endpoint.
    mns_endpoint: Optional[str] = None
    #: Signature for VOD calls: v3 (ACS3-HMAC-SHA256, as the current SDK) or v1 (HMAC-SHA1).
    signature_version: Literal["v3", "v1"] = "v3"
    #: Seconds to wait for a connection / for a response.
    connect_timeout: float = Field(3.05, gt=0)
    read_timeout: float = Field(10.0, gt=0)

    # -- nothing lost, nothing paid twice -------------------------------------------------------
    #: Idempotency store URL: sqlite:///path (default, local), redis://host:port/db, memory://.
    #: A secret: a redis URL may hold a password.
    idempotency_store: Optional[SecretStr] = None
    #: Prefix of every job key (keys are prefix:action:media id:template id).
    idempotency_prefix: str = Field("vodai", min_length=1)
    #: How long a finished job's record is kept, in seconds (redeliveries come within a day).
    idempotency_ttl: int = Field(7 * 86400, gt=0)
    #: Seconds a claim holds its key; default: until the invocation's FC timeout has passed.
    idempotency_lock_seconds: Optional[float] = Field(None, gt=0)
    #: What a delivery does when another invocation holds the same job key right now.
    concurrent_duplicates: Literal["fail", "wait", "drop"] = "fail"
    #: Bound for concurrent_duplicates=wait, in seconds.
    concurrent_wait: float = Field(10.0, gt=0)
    #: Attempts per call for retryable errors (throttling, 5xx, lost connections).
    retry_attempts: int = Field(5, ge=1, le=20)
    #: Backoff: full jitter over base * 2^n, capped.
    retry_base_delay: float = Field(0.2, gt=0)
    retry_max_delay: float = Field(5.0, gt=0)
    #: Largest delivery on_upload parses, in bytes; a larger one is dead-lettered unparsed. FC 3.0
    #: takes up to 128 KB per asynchronous invocation (how the events trigger invokes on_upload)
    #: and 32 MB per synchronous one: raise it to 33554432 for synchronous invocations.
    max_delivery_bytes: int = Field(ASYNC_PAYLOAD_LIMIT, gt=0)
    #: Where dead letters go: a directory (default .vodai/dead-letters), mns-queue://NAME, mns-topic://NAME.
    dead_letters: Optional[str] = None

    # -- following jobs to their result (vodai.tracking, functions/track_jobs) -------------------
    #: Where submitted jobs are tracked until they finish; default: the idempotency store's URL.
    #: A secret, like the idempotency store's URL.
    tracking_store: Optional[SecretStr] = None
    #: Seconds after its submission a job that VOD does not know is given up as lost.
    tracking_lost_after: float = Field(3600.0, gt=0)
    #: Pending jobs read from the store per page (the least recently checked first); a timer run
    #: works through pages until its budget is spent or every pending job was checked.
    tracking_poll_limit: int = Field(200, ge=1, le=10000)
    #: Seconds one track_jobs run may spend; default: the function's timeout less the invocation margin.
    tracking_budget: Optional[float] = Field(None, gt=0)
    #: VOD lookups (GetAIImageJobs of 10 JobIds, GetAIMediaAuditJob of one) in flight at once.
    tracking_concurrency: int = Field(8, ge=1, le=64)

    # -- the HTTP-callback function (functions/vod_callback) ---------------------------------
    #: The callback URL exactly as configured in VOD's console (it is part of the signature).
    callback_url: Optional[str] = None
    #: VOD's callback auth key; two comma-separated keys during rotation. A secret: never logged.
    callback_auth_key: Optional[SecretStr] = None
    #: How old (or how far in the future) X-VOD-TIMESTAMP may be, in seconds.
    callback_window: int = Field(300, gt=0)
    #: Largest callback body accepted, in bytes (VOD's events are well under 2 KiB; the hand-off
    #: base64-encodes the body, so over about 48 KiB it would not fit an MNS message anyway).
    callback_max_body: int = Field(32768, gt=0)
    #: Set to true to run the callback function without an auth key, on purpose.
    callback_allow_unauthenticated: bool = False
    #: Before paying for the job of an event that came by HTTP callback, check with VOD
    #: (GetVideoInfo / GetImageInfo) that its media exists in that region and is uploaded: VOD
    #: does not sign the callback's body. Off only where every HTTP delivery is trusted.
    verify_callback_media: bool = True
    #: The MNS queue the callback hands verified events to (VOD's own MNS notifications land
    #: there too); its trigger runs on_upload. FC 3.0's template sets this one.
    events_queue: Optional[str] = None
    #: Instead of a queue: the MNS topic the callback publishes verified events to.
    events_topic: Optional[str] = None
    #: Seconds the callback may spend handing an event off, within VOD's 5-second window.
    callback_budget: float = Field(3.0, gt=0, lt=5)

    def idempotency_url(self) -> Optional[str]:
        return self.idempotency_store.get_secret_value() if self.idempotency_store else None

    @property
    def target(self) -> Literal["cloud", "emulator"]:
        """Where VOD jobs are submitted: ``cloud`` (no endpoint override, or one under
        ``aliyuncs.com``) or ``emulator`` (any other VOD endpoint). MNS does not count: a real
        VOD job is paid for wherever its JobId is published."""
        if self.vod_endpoint is None:
            return "cloud"
        host = (urlsplit(self.vod_endpoint).hostname or "").lower()
        return "cloud" if host == CLOUD_DOMAIN or host.endswith("." + CLOUD_DOMAIN) else "emulator"

    @property
    def namespace(self) -> str:
        """The namespace of job records and tracked jobs: ``VODAI_IDEMPOTENCY_PREFIX`` against the
        cloud (where a deployed function has always kept them), ``<prefix>:emulator`` against
        anything else, so that no local run can make a real upload look done."""
        if self.target == "cloud":
            return self.idempotency_prefix
        return f"{self.idempotency_prefix}:{EMULATOR_NAMESPACE}"

    def tracking_url(self) -> Optional[str]:
        """``VODAI_TRACKING_STORE``, else the idempotency store's URL (None: both defaults)."""
        if self.tracking_store:
            return self.tracking_store.get_secret_value()
        return self.idempotency_url()

    def callback_auth_keys(self) -> list:
        """The configured auth keys (rotation: old and new, comma-separated)."""
        if self.callback_auth_key is None:
            return []
        return [k.strip() for k in self.callback_auth_key.get_secret_value().split(",") if k.strip()]

    @field_validator("vod_endpoint", "mns_endpoint")
    @classmethod
    def _base_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a base URL starting with http:// or https://")
        return value

    @field_validator("idempotency_store", "tracking_store")
    @classmethod
    def _store_url(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        if value is None:
            return None
        scheme = _scheme(value.get_secret_value())
        if scheme not in STORE_SCHEMES:
            # Never echo the URL: a redis URL may hold a password.
            what = f"unsupported scheme {scheme!r}" if scheme else "not a URL"
            raise ValueError(f"{what}: use sqlite:///path, redis://host:port/db or memory://")
        return value

    @field_validator("dead_letters")
    @classmethod
    def _dead_letters(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and "://" in value and _scheme(value) not in DEAD_LETTER_SCHEMES:
            raise ValueError(f"unsupported scheme {_scheme(value)!r}: use a directory, file://DIR, "
                             "mns-queue://NAME or mns-topic://NAME")
        return value

    @field_validator("callback_auth_key")
    @classmethod  # raises ConfigError, which pydantic passes through: it names the setting already
    def _auth_keys(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        for key in (value.get_secret_value().split(",") if value is not None else ()):
            if key.strip():
                check_secret(ENV_PREFIX + "CALLBACK_AUTH_KEY", key.strip())
        return value

    @classmethod
    def variable_names(cls) -> list:
        """Every ``VODAI_*`` variable vodai reads: the settings' and the others'."""
        return sorted({ENV_PREFIX + name.upper() for name in cls.model_fields} | OTHER_VARIABLES)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Read every ``VODAI_<FIELD>`` variable; unknown ``VODAI_*`` names are ignored here
        (:func:`unknown_variables` names them, for a warning)."""
        env = os.environ if environ is None else environ
        values: Dict[str, str] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw.strip() != "":
                values[name] = raw.strip()
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            message = err["msg"].removeprefix("Value error, ")
            raise ConfigError(ENV_PREFIX + field.upper(), message) from None


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def unknown_variables(names: Iterable[str]) -> List[str]:
    """A warning for each ``VODAI_*`` name in ``names`` that vodai does not read, naming the
    closest one it does (a typo is otherwise silently ignored).

    Parameters
    ----------
    names
        Environment variable names, e.g. ``os.environ``'s keys.

    Returns
    -------
    list of str
        One line per unknown name, in the order given.
    """
    known = Settings.variable_names()
    warnings = []
    for name in names:
        if not name.startswith(ENV_PREFIX) or name.startswith(TEST_PREFIX) or name in known:
            continue
        import difflib  # only when there is a name to match: not on the handler's cold path

        # Matched without the prefix, which every name shares and would make any name look close.
        close = difflib.get_close_matches(name[len(ENV_PREFIX):], [k[len(ENV_PREFIX):] for k in known], n=1)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "it is not one of vodai's settings"
        warnings.append(f"unknown variable {name} is ignored: {hint}")
    return warnings
