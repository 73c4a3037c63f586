"""The emulator's single source of truth: credentials, topics, queues, jobs, nonces, fault
rules and a request log.

Both protocol layers (VOD JSON, MNS XML) and both front doors (requests adapter, Flask server)
share one backend, so a test can publish through one door and inspect through another.
Every method takes the lock and hands out copies, so callers never see half-updated state.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from .faults import Fault, Faults

# Which VOD actions each region serves (per docs/reference). A plain dict on purpose:
# the Chinese reference also lists the audit action in cn-shanghai/cn-beijing, so tests
# and later issues may widen it.
DEFAULT_REGION_ACTIONS: dict[str, set[str]] = {
    "cn-shanghai": {"SubmitAIImageJob", "GetAIImageJobs"},
    "cn-beijing": {"SubmitAIImageJob", "GetAIImageJobs"},
    "ap-southeast-1": {"SubmitAIImageAuditJob"},
}

# Alibaba rejects timestamps more than 15 minutes off, so a nonce only has to be
# remembered for that long: an older replay fails the timestamp check anyway.
NONCE_TTL_SECONDS = 15 * 60

# Parameters never written to the request log (or to stderr through it).
SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "BearerToken", "AccessKeySecret"})

logger = logging.getLogger("vodai.emulator")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str] = None


def utc_timestamp(epoch: float) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``, the format VOD uses for CreationTime and friends."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


class EmulatorBackend:
    """In-memory state of one emulated Alibaba Cloud account (VOD + MNS)."""

    def __init__(
        self,
        default_region: str = "cn-shanghai",
        *,
        verify_signatures: bool = True,
        region_actions: Optional[dict[str, set[str]]] = None,
        seed: Optional[int] = None,
    ) -> None:
        self.default_region = default_region
        self.verify_signatures = verify_signatures
        self.region_actions = copy.deepcopy(
            DEFAULT_REGION_ACTIONS if region_actions is None else region_actions
        )
        self._lock = threading.RLock()
        self._credentials: dict[str, Credentials] = {}
        self._topics: dict[str, list[dict[str, Any]]] = {}
        self._queues: dict[str, list[dict[str, Any]]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._requests: list[dict[str, Any]] = []
        self._nonces: dict[tuple[str, str], float] = {}
        # Fault rules (vodai.emulator.faults); ``seed`` makes their probability draws repeat.
        self.faults = Faults(seed)

    # -- configuration (kept by reset) ---------------------------------------------------

    def add_credentials(
        self, access_key_id: str, access_key_secret: str, security_token: Optional[str] = None
    ) -> None:
        """Register a key. With a token, every request made with this key must carry it."""
        with self._lock:
            self._credentials[access_key_id] = Credentials(
                access_key_id, access_key_secret, security_token or None
            )

    def credentials(self, access_key_id: str) -> Optional[Credentials]:
        with self._lock:
            return self._credentials.get(access_key_id)

    def create_topic(self, name: str) -> None:
        with self._lock:
            self._topics.setdefault(name, [])

    def has_topic(self, name: str) -> bool:
        with self._lock:
            return name in self._topics

    def create_queue(self, name: str) -> None:
        with self._lock:
            self._queues.setdefault(name, [])

    def has_queue(self, name: str) -> bool:
        with self._lock:
            return name in self._queues

    def serves(self, region: str, action: str) -> bool:
        with self._lock:
            return action in self.region_actions.get(region, set())

    # -- recorded state (cleared by reset) -------------------------------------------------

    def publish(self, topic: str, body: str, tag: Optional[str]) -> dict[str, Any]:
        """Store a message as published; KeyError when the topic does not exist."""
        message = {
            "MessageId": uuid.uuid4().hex.upper(),
            "MessageBody": body,
            "MessageTag": tag,
            "PublishTime": int(time.time() * 1000),
            "MessageBodyMD5": hashlib.md5(body.encode("utf-8")).hexdigest().upper(),
        }
        with self._lock:
            self._topics[topic].append(message)
        return dict(message)

    def topic_messages(self, name: str) -> list[dict[str, Any]]:
        """Messages published to ``name``, oldest first; KeyError for an unknown topic."""
        with self._lock:
            return [dict(m) for m in self._topics[name]]

    def send_to_queue(
        self, queue: str, body: str, *, delay_seconds: int = 0, priority: int = 8
    ) -> dict[str, Any]:
        """Store a message as sent to a queue; KeyError when the queue does not exist."""
        now = int(time.time() * 1000)
        message = {
            "MessageId": uuid.uuid4().hex.upper(),
            "MessageBody": body,
            "MessageBodyMD5": hashlib.md5(body.encode("utf-8")).hexdigest().upper(),
            "DelaySeconds": delay_seconds,
            "Priority": priority,
            "EnqueueTime": now,
            "NextVisibleTime": now + delay_seconds * 1000,
        }
        with self._lock:
            self._queues[queue].append(message)
        return dict(message)

    def queue_messages(self, name: str) -> list[dict[str, Any]]:
        """Messages sent to queue ``name``, oldest first; KeyError for an unknown queue."""
        with self._lock:
            return [dict(m) for m in self._queues[name]]

    def add_job(self, job: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._jobs[job["JobId"]] = dict(job)
        return dict(job)

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(j) for j in self._jobs.values()]

    def get_job(self, job_id: str) -> Optional[dict[str, Any]]:
        with self._lock:
            job = self._jobs.get(job_id)
            return dict(job) if job is not None else None

    def use_nonce(self, access_key_id: str, nonce: str) -> bool:
        """Remember a signature nonce; False when this key already used it recently."""
        now = time.time()
        with self._lock:
            self._nonces = {k: t for k, t in self._nonces.items() if now - t < NONCE_TTL_SECONDS}
            key = (access_key_id, nonce)
            if key in self._nonces:
                return False
            self._nonces[key] = now
            return True

    def record_request(
        self,
        *,
        service: str,
        action: str,
        region: Optional[str],
        params: dict[str, Any],
        status: Optional[int],
        error_code: Optional[str] = None,
        access_key_id: Optional[str] = None,
        fault: Optional[Fault] = None,
    ) -> None:
        """Append to the request log (secrets dropped) and log one line for the CLI.

        ``status`` is None when no answer was sent (an injected ``reset``). With an injected
        ``fault`` the entry says what was injected (``fault``, e.g. ``error=Throttling.User/400``,
        see :meth:`vodai.emulator.faults.Fault.describe`) and by which rule (``fault_rule``, its
        spec); both are None otherwise.
        """
        summary = fault.describe() if fault is not None else None
        entry = {
            "time": utc_timestamp(time.time()),
            "service": service,
            "action": action,
            "region": region,
            "access_key_id": access_key_id,
            "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
            "status": status,
            "error_code": error_code,
            "fault": summary,
            "fault_rule": fault.rule.spec() if fault is not None else None,
        }
        with self._lock:
            self._requests.append(entry)
        logger.info(
            "%s %s region=%s status=%s%s%s",
            service,
            action or "-",
            region or "-",
            status if status is not None else "-",
            f" error={error_code}" if error_code else "",
            f" fault={summary}" if summary else "",
        )

    def requests_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def reset(self) -> None:
        """Forget messages, jobs, nonces and the request log; keep keys, topics, queues,
        regions and fault rules (``faults.clear()`` removes those)."""
        with self._lock:
            for messages in [*self._topics.values(), *self._queues.values()]:
                messages.clear()
            self._jobs.clear()
            self._requests.clear()
            self._nonces.clear()
