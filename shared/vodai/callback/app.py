"""The VOD HTTP-callback function: verify, hand off to the events topic, answer at once.

VOD's HTTP callback counts only an HTTP 200 answered within 5 seconds; otherwise it tries twice
more, 1 s apart, and then drops the event. Calling VOD inline (routing, a signed Submit* call,
publishing the JobId) would put the event at the mercy of that window. So this function does
not run the pipeline: it **verifies and hands off**. It publishes the verified event to the MNS
topic ``VODAI_EVENTS_TOPIC``, whose FC topic trigger runs ``on_upload`` (the one pipeline) with
MNS's and FC's retries (up to a day), and answers 200 straight away. The publish is one small
request under a hard budget (``VODAI_CALLBACK_BUDGET``, see :mod:`vodai.callback.handoff`).

Answers (always JSON):

=====  =========================================================================================
200    ``{"accepted": true, "MessageId": "…"}``: the event is on the events topic
400    ``{"error": "bad_request", "reason": "VideoId: missing"}``: authenticated, but not a VOD event
401    ``{"error": "unauthorized", "reason": "…"}``: missing/malformed/stale/wrong signature, or
       a replay of a request already accepted (same URL, timestamp, signature and body)
405    ``{"error": "method_not_allowed", …}`` with ``Allow: POST``
413    ``{"error": "too_large", …}``: over ``VODAI_CALLBACK_MAX_BODY`` (or too big for MNS)
500    ``{"error": "misconfigured", "reason": "VODAI_CALLBACK_AUTH_KEY: …"}``: the function refuses
       to work (no auth key, no topic, no callback URL, no credentials)
503    ``{"error": "unavailable", "reason": "…"}``: the hand-off failed or its budget ran out; VOD
       retries, which is safe because ``on_upload`` is idempotent by job key
=====  =========================================================================================

A malformed body that passed authentication (not JSON, not an object, no ``EventType``, a
field of the wrong type) is answered 400 and logged with its reason, not handed off: it comes
from a holder of the auth key and cannot succeed on a retry, so ``on_upload`` would only reject
it. VOD retries twice and drops it; dead letters for such bodies come in a later issue.

Replays: VOD signs ``URL|timestamp``, not the body, and every callback it sends to the URL within
one second carries the same header pair, so the pair alone does not identify a request. What does
is the pair with the body: an identical request accepted once is refused (401) for the rest of the
window, in every instance, by a seen mark in the idempotency store (``VODAI_IDEMPOTENCY_STORE``;
unset, a memory store of this instance). The mark is dropped again when the hand-off fails, so
VOD's own retry of a 503 is accepted. A *different* body under a valid pair cannot be told from a
genuine callback here; ``on_upload`` checks its media against VOD before it pays for a job
(``VODAI_VERIFY_CALLBACK_MEDIA``).

The signature covers the callback URL as VOD's console holds it: ``VODAI_CALLBACK_URL``, with the
query string of the request when it has one (:func:`vodai.callback.auth.signed_url`), so one
function can serve several regions configured as ``…?region=cn-shanghai``, ``…?region=cn-beijing``.
That ``region`` (else the one in ``VODAI_CALLBACK_URL``) rides along in the published event.

Startup check: without an auth key, and unless ``VODAI_CALLBACK_ALLOW_UNAUTHENTICATED`` is true,
the function refuses to start (:func:`check_startup`, called by ``initializer``); it also refuses
without ``VODAI_EVENTS_TOPIC``, and without ``VODAI_CALLBACK_URL`` when authenticating. A handler
that runs anyway (no initializer configured) answers 500 rather than accept anything.

One log line per callback (logger ``vodai.callback``): accepted/refused/failed, the HTTP status,
the reason, and the media id, event type, region and MessageId when known. Never the auth key,
the signature, the timestamp/signature pair or credentials.

Plain WSGI: no Flask or werkzeug on this import path (cold starts are billed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .. import context as fc_context
from .. import instance
from ..config import Settings
from ..events.models import parse_event
from ..exceptions import ConfigError, EventError
from ..idempotency import IdempotencyError, IdempotencyStore, open_store
from ..redaction import redact
from .auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, CallbackAuthError, header, query_region, signed_url, verify
from .envelope import MESSAGE_TAG, MNS_MAX_MESSAGE_BYTES, http_trigger_event, message_text, query_parameters
from .handoff import Budget, Destination, HandoffError, PublisherFactory, mns_publisher_factory, publish_within

logger = logging.getLogger("vodai.callback")

StartResponse = Callable[..., Any]
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_MEDIA_ID_FIELDS = ("VideoId", "ImageId", "AttachedMediaId", "MediaId")


def check_startup(settings: Settings) -> None:
    """Raise :class:`ConfigError` (naming the variable) when the callback must not start."""
    keys = settings.callback_auth_keys()
    if not keys and not settings.callback_allow_unauthenticated:
        raise ConfigError(
            "VODAI_CALLBACK_AUTH_KEY",
            "missing: set the auth key configured in VOD's console (two comma-separated keys during "
            "rotation), or set VODAI_CALLBACK_ALLOW_UNAUTHENTICATED=true to accept unauthenticated callbacks on purpose",
        )
    for number, key in enumerate(keys, 1):
        if len(key) > 32 or not set(key) <= _KEY_CHARS:
            raise ConfigError(
                "VODAI_CALLBACK_AUTH_KEY",
                f"key {number} of {len(keys)}: VOD's auth keys are at most 32 letters and digits",
            )
    url = settings.callback_url
    if url and (not url.startswith(("http://", "https://")) or not urlsplit(url).hostname):
        raise ConfigError("VODAI_CALLBACK_URL", "must be a URL starting with http:// or https://")
    if settings.events_queue and settings.events_topic:
        raise ConfigError(
            "VODAI_EVENTS_QUEUE",
            "set either it or VODAI_EVENTS_TOPIC, not both: the callback hands each event to one place",
        )
    if not settings.events_queue and not settings.events_topic:
        raise ConfigError(
            "VODAI_EVENTS_QUEUE",
            "missing: the MNS queue the callback hands verified events to (its trigger runs on_upload); "
            "or VODAI_EVENTS_TOPIC for a topic",
        )
    if settings.events_topic and settings.events_topic == settings.callback_topic:
        raise ConfigError(
            "VODAI_EVENTS_TOPIC",
            "must differ from VODAI_CALLBACK_TOPIC: on_upload publishes JobIds there and is triggered by this one",
        )


class _Reply:
    def __init__(self, status: int, doc: dict, *, headers: Optional[List[Tuple[str, str]]] = None) -> None:
        self.status = status
        self.doc = doc
        self.headers = headers or []


def _refuse(status: int, error: str, reason: str, **headers: str) -> _Reply:
    return _Reply(status, {"error": error, "reason": reason}, headers=list(headers.items()))


class CallbackApp:
    """The WSGI application. ``publisher_factory(context, timeout)`` gives the topic publisher
    (default: :func:`~vodai.callback.handoff.mns_publisher_factory`); ``clock`` (UNIX seconds) and
    ``monotonic`` are the clocks of the timestamp window and of the budget; ``store`` keeps the
    seen marks of accepted requests (default: ``VODAI_IDEMPOTENCY_STORE``, else memory), opened
    at the first request that needs it."""

    def __init__(
        self,
        settings: Settings,
        publisher_factory: Optional[PublisherFactory] = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        store: Optional[IdempotencyStore] = None,
    ) -> None:
        self.settings = settings
        self.publisher_factory = publisher_factory or mns_publisher_factory(settings)
        self._store = store
        self._store_lock = threading.Lock()
        self._clock = clock
        self._monotonic = monotonic
        self._keys = settings.callback_auth_keys()
        self._secrets = list(self._keys)
        #: Why the function refuses to work (None when it is ready).
        self.startup_error: Optional[ConfigError] = None
        try:
            check_startup(settings)
        except ConfigError as exc:
            self.startup_error = exc
        if self.startup_error is None and not self._keys:
            logger.warning("vodai callback: VODAI_CALLBACK_ALLOW_UNAUTHENTICATED is set: callbacks are NOT authenticated")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **kwargs: Any) -> "CallbackApp":
        """Settings from ``VODAI_*`` variables (a bad value raises :class:`ConfigError`)."""
        return cls(Settings.from_env(environ), **kwargs)

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        budget = Budget(self.settings.callback_budget, self._monotonic)
        received_at = self._clock()
        known: dict = {}  # what the log line can say about the event (filled as it is learnt)
        try:
            reply = self._handle(environ, budget, received_at, known)
        except Exception as exc:  # never answer with a traceback; say what kind of failure it was
            logger.error("vodai callback: unexpected %s", type(exc).__name__, exc_info=True)
            reply = _refuse(500, "internal", f"unexpected {type(exc).__name__}")
        self._log(reply, known, environ, budget)
        return respond(start_response, reply.status, reply.doc, reply.headers)

    def _handle(self, environ: dict, budget: Budget, received_at: float, known: dict) -> _Reply:
        settings = self.settings
        if self.startup_error is not None:
            return _refuse(500, "misconfigured", str(self.startup_error))
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return _refuse(405, "method_not_allowed", "only POST is accepted", Allow="POST")

        body, refusal = _read_body(environ, settings.callback_max_body)
        if refusal is not None:
            return refusal

        query_string = environ.get("QUERY_STRING", "") or ""
        candidates = [signed_url(base, query_string) for base in _callback_bases(settings, environ)]
        url = candidates[0]
        if self._keys:
            url, refusal = self._authenticate(environ, candidates, received_at)
            if refusal is not None:
                return refusal

        if not body.strip():
            return _refuse(400, "bad_request", "body: empty")
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _refuse(400, "bad_request", "body: not JSON")
        except RecursionError:  # nested deeper than the parser goes: malformed, not a server fault
            return _refuse(400, "bad_request", "body: JSON nested too deep")
        if isinstance(doc, dict):
            known.update(_event_fields(doc))
        try:
            parse_event(doc)
        except EventError as exc:
            return _refuse(400, "bad_request", str(exc))
        except RecursionError:
            return _refuse(400, "bad_request", "body: JSON nested too deep")

        region = query_region(query_string) or query_region(settings.callback_url or "")
        query = query_parameters(urlsplit(url).query)
        if region and not any(k.lower() == "region" for k in query):
            query["region"] = region
        known["Region"] = region
        context = environ.get("fc.context")
        event = http_trigger_event(
            body,
            path=urlsplit(url).path or "/",
            query=query,
            request_id=_request_id(environ, context) or "",  # generate=True: never empty
            received_at=received_at,
            content_type=environ.get("CONTENT_TYPE") or None,
            domain=urlsplit(url).hostname or environ.get("HTTP_HOST"),
            source_ip=environ.get("REMOTE_ADDR") or None,
        )
        text = message_text(event)
        if len(text) > MNS_MAX_MESSAGE_BYTES:
            return _refuse(413, "too_large", f"body of {len(body)} bytes is too large to hand off as one MNS message")

        seen = self._seen_key(environ, url, body) if self._keys else None
        if seen is not None:
            refusal = self._mark_seen(seen, environ, received_at)
            if refusal is not None:
                return refusal
        try:
            result = publish_within(
                budget,
                self.publisher_factory,
                context,
                destination=Destination.of(settings),
                body=text,
                tag=MESSAGE_TAG,
                connect_timeout=settings.connect_timeout,
            )
        except ConfigError as exc:
            self._forget(seen)
            return _refuse(500, "misconfigured", str(exc))
        except HandoffError as exc:
            self._forget(seen)  # not handed off: VOD's retry of this very request must get through
            return _refuse(503, "unavailable", redact(exc.reason, self._secrets))
        known["MessageId"] = result.get("MessageId")
        return _Reply(200, {"accepted": True, "MessageId": result.get("MessageId")})

    def _authenticate(self, environ: dict, candidates: List[str], received_at: float) -> Tuple[str, Optional[_Reply]]:
        """The URL whose signature the request carries, or a 401. Several candidates only when
        the URL is taken from the request (its scheme may not have survived FC's front end)."""
        first: Optional[CallbackAuthError] = None
        for url in candidates:
            try:
                verify(_headers(environ), url=url, keys=self._keys, window=self.settings.callback_window, now=received_at)
                return url, None
            except CallbackAuthError as exc:
                first = first or exc
        assert first is not None
        return candidates[0], _refuse(401, "unauthorized", first.reason)

    def store(self) -> IdempotencyStore:
        """The store of seen marks, opened once (a warm instance reuses its connection)."""
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = open_store(self.settings.idempotency_url() or "memory://")
        return self._store

    def _seen_key(self, environ: dict, url: str, body: bytes) -> str:
        """What identifies one request: URL, timestamp, signature (its hex in either case) and body.
        Hashed, so the mark holds neither the pair nor the body."""
        headers = _headers(environ)
        timestamp = (header(headers, TIMESTAMP_HEADER) or "").strip()
        signature = (header(headers, SIGNATURE_HEADER) or "").strip().lower()
        digest = hashlib.sha256(f"{url}|{timestamp}|{signature}|".encode() + body).hexdigest()
        return f"{self.settings.namespace}:callback-seen:{digest}"

    def _mark_seen(self, key: str, environ: dict, received_at: float) -> Optional[_Reply]:
        timestamp = int((header(_headers(environ), TIMESTAMP_HEADER) or "0").strip())
        # Past the window the timestamp check refuses the request anyway: the mark need not outlive it.
        expires_at = max(timestamp, received_at) + self.settings.callback_window + 1
        try:
            first = self.store().mark_seen(key, now=received_at, expires_at=expires_at)
        except IdempotencyError as exc:
            return _refuse(503, "unavailable", redact(f"idempotency store: {exc}", self._secrets))
        if not first:
            return _refuse(401, "unauthorized", "replayed: an identical callback was already accepted")
        return None

    def _forget(self, key: Optional[str]) -> None:
        if key is None:
            return
        try:
            self.store().delete(key)
        except IdempotencyError as exc:  # the retry is then refused as a replay; say so
            logger.error("vodai callback: could not drop the seen mark of a failed hand-off: %s",
                         redact(str(exc), self._secrets))

    def _log(self, reply: _Reply, known: dict, environ: dict, budget: Budget) -> None:
        if reply.status == 200:
            result, level = "accepted", logging.INFO
        elif reply.status < 500:
            result, level = "refused", logging.WARNING
        else:
            result, level = "failed", logging.ERROR
        fields = {"Result": result, "Status": reply.status, "Reason": reply.doc.get("reason")}
        fields.update(known)
        fields["RequestId"] = _request_id(environ, environ.get("fc.context"), generate=False)
        fields["ElapsedMs"] = int(budget.elapsed() * 1000)
        text = json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)
        logger.log(level, "vodai callback %s", redact(text, self._secrets))


# -- helpers ---------------------------------------------------------------------------------
def respond(start_response: StartResponse, status: int, doc: dict, headers: Iterable[Tuple[str, str]] = ()) -> List[bytes]:
    payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(payload))), *headers],
    )
    return [payload]


def _read_body(environ: dict, limit: int) -> Tuple[bytes, Optional[_Reply]]:
    """At most ``limit`` bytes of the body, honouring Content-Length; a 400/413 reply otherwise."""
    too_large = f"body exceeds VODAI_CALLBACK_MAX_BODY ({limit} bytes)"
    raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if raw_length:
        if not raw_length.isdigit():
            return b"", _refuse(400, "bad_request", "Content-Length: not a number")
        length = int(raw_length)
        if length > limit:
            return b"", _refuse(413, "too_large", too_large)
        to_read = length
    elif environ.get("wsgi.input_terminated"):
        to_read = limit + 1  # chunked: the server ends the stream; read one byte past the limit
    else:
        to_read = 0
    body = stream.read(to_read) if stream is not None and to_read else b""
    if len(body) > limit:
        return b"", _refuse(413, "too_large", too_large)
    return body, None


def _headers(environ: dict) -> dict:
    return {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}


def _request_id(environ: dict, context: Any, *, generate: bool = True) -> Optional[str]:
    found = fc_context.request_id(context) or environ.get("HTTP_X_FC_REQUEST_ID")
    if found:
        return str(found)
    if not generate:
        return environ.get("vodai.callback.request_id")
    environ["vodai.callback.request_id"] = str(uuid.uuid4())
    return environ["vodai.callback.request_id"]


def _request_path(environ: dict) -> str:
    return (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


def _callback_bases(settings: Settings, environ: dict) -> List[str]:
    """The callback URL VOD signs: ``VODAI_CALLBACK_URL``, else the URL this request was addressed
    to (host and path as received). FC's front end may hand an https request on as http, so
    without ``X-Forwarded-Proto`` both schemes are tried; the auth key still has to match."""
    if settings.callback_url:
        return [settings.callback_url]
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "localhost"
    path = _request_path(environ)
    forwarded = (environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
    schemes = [forwarded] if forwarded in ("http", "https") else ["https", "http"]
    return [f"{scheme}://{host}{path}" for scheme in schemes]


def _event_fields(doc: dict) -> dict:
    """EventType and media id of a body, for the log line, read without trusting it."""
    fields = {}
    if isinstance(doc.get("EventType"), str):
        fields["EventType"] = doc["EventType"][:64]
    for name in _MEDIA_ID_FIELDS:
        if isinstance(doc.get(name), (str, int)) and str(doc[name]):
            fields["MediaId"] = str(doc[name])[:128]
            break
    return fields


# -- the per-instance application behind functions/vod_callback/index.py ----------------------


def _app_or_error() -> "CallbackApp | ConfigError":
    try:
        return CallbackApp.from_env()
    except ConfigError as exc:
        return exc  # kept too: a setting that cannot be read stays unreadable until reset


def instance_app() -> CallbackApp:
    """The instance's app (kept in :mod:`vodai.instance`), built from the environment once (cold
    start) and reused while warm.

    Raises :class:`ConfigError` when a setting cannot be read at all.
    """
    app = instance.current().once("callback.app", _app_or_error)
    if isinstance(app, ConfigError):
        raise app
    return app


def handle(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point (FC 2.0 HTTP function: ``environ["fc.context"]`` is the context)."""
    try:
        app = instance_app()
    except ConfigError as exc:
        logger.error("vodai callback %s", json.dumps({"Result": "failed", "Status": 500, "Reason": str(exc)}))
        return respond(start_response, 500, {"error": "misconfigured", "reason": str(exc)})
    return app(environ, start_response)


def initializer(context: Any = None) -> None:
    """FC's initializer: refuse to start (raise :class:`ConfigError`) when misconfigured."""
    app = instance_app()
    if app.startup_error is not None:
        raise app.startup_error  # logged once, by whoever runs the initializer (the runtime shim)


def reset() -> None:
    """Forget the instance's app and settings, and close its clients (tests, and a runtime shim's
    /initialize): :func:`vodai.instance.reset`."""
    instance.reset()
