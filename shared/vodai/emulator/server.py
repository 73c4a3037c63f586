"""The over-the-wire front door: a Flask app around the same handler, and a small control API.

Flask (and waitress) are imported only here, so ``import vodai.emulator`` stays light.

Control API (JSON, no authentication, for tests and tools that drive a server process; a
bad request answers 400 ``{"error": "..."}``):

=========================================  ===============================================
``POST /_emulator/reset``                   forget activity, keep configuration
``GET|POST /_emulator/topics``, ``queues``  list (with message counts; a queue's ``visible``,
                                            ``in_flight``, ``delayed`` and ``sent``, every
                                            message ever sent, too) / create ``{"name"}``
                                            (a queue also ``"visibility_timeout"``, seconds)
``GET .../topics/<name>/messages``          messages (also ``queues/<name>/messages``)
``POST .../queues/<name>/wait``             wait until the queue is empty ``{"timeout": 30}``
``POST .../topics/<name>/messages``         publish ``{"body", "tag", "attributes"}`` (runs triggers)
``GET|POST /_emulator/media``               media records / seed one without an event (or
                                            ``"count"`` of them, ``"every"`` seconds apart)
``POST /_emulator/uploads``                 an upload finished: record it and deliver its event
``GET|PUT|DELETE /_emulator/callback``      VOD's callback setting per region
``GET|POST|DELETE /_emulator/triggers``     FC MNS topic triggers (subscriptions)
``GET|POST|DELETE /_emulator/queue-triggers``
                                            FC MNS queue triggers: status with counters and
                                            queue depth / add (objects or specs) / remove
``GET|PUT|DELETE /_emulator/lifecycle``     job lifecycle rules (DELETE: back to the defaults)
``GET /_emulator/jobs``, ``jobs/<id>``      jobs with state, lifecycle plan and results
``GET /_emulator/deliveries``               the delivery log; ``POST deliveries/wait``
``GET /_emulator/requests``                 the request log
``GET|PUT /_emulator/state``                save / load the whole state
``GET /_emulator/clock``, ``POST advance``  the emulator clock; ``{"seconds": N}``
``GET|PUT /_emulator/settings``             strict_media, param_max_lengths, delivery timing
``GET|POST|DELETE /_emulator/faults``       fault rules; ``POST /_emulator/seed`` ``{"seed": n}``
=========================================  ===============================================

Injected ``reset`` and ``lost`` faults fail the TCP connection itself, without any HTTP
answer: the view raises :class:`ConnectionAbort`, which passes through Flask, and the
waitress task (:class:`_AbortableTask`) catches it before anything was written. For
``reset`` it sets ``SO_LINGER`` to zero so that closing the socket sends an RST (the client
sees ``ConnectionResetError``); for ``lost`` the socket is shut down and closed normally
(FIN, the client sees ``RemoteDisconnected``). Either way waitress then closes the channel
in its main loop, as it does for any connection it drops.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify
from flask import request as flask_request

from ..timestamps import parse_utc
from .backend import EmulatorBackend
from .callbacks import CallbackConfig, CallbackSpecError, parse_subscription
from .faults import FaultSpecError, parse_fault
from .lifecycle import LifecycleSpecError, parse_lifecycle
from .protocol import handle
from .queue_trigger import parse_queue_trigger
from .request import ABORT_RESET, EmulatorRequest

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
# Worker threads: an injected latency holds one while it sleeps, never the others.
THREADS = 16


class ConnectionAbort(Exception):
    """Raised by the app to make the server fail the connection instead of answering."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _EmulatorFlask(Flask):
    def handle_exception(self, e: Exception):
        # Not a server error: let the abort reach the WSGI server untouched.
        if isinstance(e, ConnectionAbort):
            raise e
        return super().handle_exception(e)


def create_app(backend: EmulatorBackend, *, latency_ms: float = 0.0) -> Flask:
    """The app. ``latency_ms``: a fixed delay before every VOD and MNS answer (not the control
    API's), the cost of a round trip to a real endpoint, so that a client is measured against a
    server as slow as the cloud's rather than one answering on loopback in a millisecond."""
    if latency_ms < 0:
        raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
    delay = latency_ms / 1000.0
    app = _EmulatorFlask("vodai.emulator")

    @app.errorhandler(_BadRequest)
    def bad_request(error: "_BadRequest"):
        return jsonify({"error": str(error)}), 400

    @app.get("/_emulator/topics")
    def list_topics():
        return jsonify([{"name": n, "messages": backend.topic_size(n)} for n in backend.topics()])

    @app.post("/_emulator/topics")
    def create_topic():
        name = _name_from(_json_body())
        backend.create_topic(name)
        return jsonify({"name": name})

    @app.get("/_emulator/queues")
    def list_queues():
        return jsonify([{"name": n, **backend.queue_stats(n)} for n in backend.queues()])

    @app.post("/_emulator/queues")
    def create_queue():
        data = _json_body()
        name = _name_from(data)
        timeout = data.get("visibility_timeout")
        if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
            raise _BadRequest('expected {"name": "<name>", "visibility_timeout": <seconds>}')
        try:
            backend.create_queue(name, visibility_timeout=timeout)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        return jsonify({"name": name, "visibility_timeout": backend.visibility_timeout(name)})

    @app.get("/_emulator/topics/<name>/messages")
    def topic_messages(name: str):
        try:
            return jsonify(backend.topic_messages(name))
        except KeyError:
            return jsonify({"error": f"topic {name!r} does not exist"}), 404

    @app.post("/_emulator/topics/<name>/messages")
    def publish(name: str):
        data = _object(_json_body(), '{"body": "...", "tag": null, "attributes": null}')
        body = data.get("body")
        if not isinstance(body, str) or not body:
            raise _BadRequest('expected {"body": "<message body>"}')
        try:
            return jsonify(backend.publish(name, body, data.get("tag"), attributes=data.get("attributes")))
        except KeyError:
            return jsonify({"error": f"topic {name!r} does not exist"}), 404

    @app.get("/_emulator/queues/<name>/messages")
    def queue_messages(name: str):
        try:
            return jsonify(backend.queue_messages(name))
        except KeyError:
            return jsonify({"error": f"queue {name!r} does not exist"}), 404

    @app.post("/_emulator/queues/<name>/wait")
    def wait_queue_empty(name: str):
        timeout = _timeout(_json_body())
        try:
            empty = backend.wait_until_empty(name, timeout)
            return jsonify({"name": name, "empty": empty, **backend.queue_stats(name)})
        except KeyError:
            return jsonify({"error": f"queue {name!r} does not exist"}), 404

    @app.get("/_emulator/jobs")
    def jobs():
        return jsonify(backend.jobs())

    @app.get("/_emulator/jobs/<job_id>")
    def job(job_id: str):
        found = backend.get_job(job_id)
        if found is None:
            return jsonify({"error": f"job {job_id!r} does not exist"}), 404
        return jsonify(found)

    @app.get("/_emulator/media")
    def media():
        return jsonify(backend.media())

    @app.post("/_emulator/media")
    def add_media():
        data = dict(_object(_json_body(), _UPLOAD_SHAPE))
        count, every = _count_and_spacing(data)
        args = _upload_args(data)
        if count is None:
            try:
                return jsonify(backend.add_media(**args))
            except ValueError as exc:
                raise _BadRequest(str(exc)) from None
        if args["media_id"] is not None:
            raise _BadRequest("media_id names one media: leave it out with count")
        first = args.pop("created", None)
        first = backend.clock.now() if first is None else first
        try:  # one request for a library: a backfill test lists thousands
            ids = [backend.add_media(**args, created=first + n * every)["MediaId"] for n in range(count)]
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        return jsonify({"Added": count, "MediaIds": ids})

    @app.post("/_emulator/uploads")
    def upload():
        data = _object(_json_body(), _UPLOAD_SHAPE)
        try:
            return jsonify(backend.upload(**_upload_args(data)))
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None

    @app.get("/_emulator/callback")
    def callbacks():
        return jsonify({region: c.to_dict() for region, c in backend.callbacks().items()})

    @app.put("/_emulator/callback")
    def set_callback():
        data = _object(_json_body(), '{"region": null, "url": "...", "auth_key": "..."} or {"mns": "queue:NAME"}')
        try:
            config = CallbackConfig.from_dict(data)
        except CallbackSpecError as exc:
            raise _BadRequest(str(exc)) from None
        backend.set_callback(data.get("region") or None, config=config)
        return jsonify({region: c.to_dict() for region, c in backend.callbacks().items()})

    @app.delete("/_emulator/callback")
    def clear_callback():
        region = flask_request.args.get("region") or None
        return jsonify({"cleared": backend.clear_callback(region)})

    @app.get("/_emulator/triggers")
    def triggers():
        return jsonify([{**s.to_dict(), "spec": s.spec()} for s in backend.subscriptions()])

    @app.post("/_emulator/triggers")
    def add_triggers():
        data = _json_body()
        items = data if isinstance(data, list) else [data]
        try:
            parsed = [parse_subscription(item) for item in items]
        except (CallbackSpecError, TypeError) as exc:
            raise _BadRequest(str(exc)) from None
        for subscription in parsed:
            backend.subscribe(subscription)
        return jsonify([{**s.to_dict(), "spec": s.spec()} for s in backend.subscriptions()])

    @app.delete("/_emulator/triggers")
    def clear_triggers():
        return jsonify({"removed": backend.unsubscribe(flask_request.args.get("name") or None)})

    @app.get("/_emulator/queue-triggers")
    def queue_triggers():
        return jsonify(backend.queue_triggers.status())

    @app.post("/_emulator/queue-triggers")
    def add_queue_triggers():
        data = _json_body()
        items = data if isinstance(data, list) else [data]
        try:
            parsed = [parse_queue_trigger(item) for item in items]
        except (CallbackSpecError, TypeError) as exc:
            raise _BadRequest(str(exc)) from None
        for trigger in parsed:
            backend.queue_triggers.add(trigger)
        return jsonify(backend.queue_triggers.status())

    @app.delete("/_emulator/queue-triggers")
    def clear_queue_triggers():
        return jsonify({"removed": backend.queue_triggers.remove(flask_request.args.get("name") or None)})

    @app.get("/_emulator/lifecycle")
    def lifecycle():
        return jsonify(backend.lifecycle.status())

    @app.put("/_emulator/lifecycle")
    def set_lifecycle():
        data = _json_body()
        items = data if isinstance(data, list) else [data]
        try:
            parsed = [parse_lifecycle(item) for item in items]
        except (LifecycleSpecError, TypeError) as exc:
            raise _BadRequest(str(exc)) from None
        for rule in parsed:
            backend.lifecycle.set(rule)
        return jsonify(backend.lifecycle.status())

    @app.delete("/_emulator/lifecycle")
    def reset_lifecycle():
        backend.lifecycle.reset()
        return jsonify(backend.lifecycle.status())

    @app.get("/_emulator/deliveries")
    def deliveries():
        return jsonify(backend.deliveries.log())

    @app.post("/_emulator/deliveries/wait")
    def wait_deliveries():
        idle = backend.deliveries.wait(_timeout(_json_body()))
        return jsonify({"idle": idle, "pending": backend.deliveries.pending()})

    @app.get("/_emulator/requests")
    def requests_log():
        return jsonify(backend.requests_log())

    @app.get("/_emulator/state")
    def get_state():
        return jsonify(backend.state())

    @app.put("/_emulator/state")
    def put_state():
        try:
            backend.load_state(_object(_json_body(), "a state document from GET /_emulator/state"))
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        return jsonify({"loaded": True, "jobs": len(backend.jobs()), "media": len(backend.media())})

    @app.get("/_emulator/clock")
    def clock():
        return jsonify(backend.clock.describe())

    @app.post("/_emulator/advance")
    def advance():
        data = _object(_json_body(), '{"seconds": <number >= 0>}')
        seconds = data.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise _BadRequest('expected {"seconds": <number >= 0>}')
        finished = backend.advance(float(seconds))
        return jsonify({**backend.clock.describe(), "finished": finished})

    @app.get("/_emulator/settings")
    def settings():
        return jsonify(_settings(backend))

    @app.put("/_emulator/settings")
    def put_settings():
        data = dict(_object(_json_body(), '{"strict_media": true, ...}'))
        if "strict_media" in data:
            value = data.pop("strict_media")
            if not isinstance(value, bool):
                raise _BadRequest("strict_media: true or false")
            backend.strict_media = value
        if "param_max_lengths" in data:
            value = data.pop("param_max_lengths")
            if not isinstance(value, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()
            ):
                raise _BadRequest('param_max_lengths: {"VideoId": 32, ...}')
            backend.param_max_lengths = dict(value)
        try:
            backend.deliveries.configure(**data)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        return jsonify(_settings(backend))

    @app.post("/_emulator/reset")
    def reset():
        backend.reset()
        return jsonify({"reset": True})

    @app.get("/_emulator/faults")
    def list_faults():
        return jsonify(backend.faults.status())

    @app.post("/_emulator/faults")
    def add_faults():
        data = _json_body()
        rules = data if isinstance(data, list) else [data]
        try:
            backend.faults.extend(parse_fault(rule) for rule in rules)
        except FaultSpecError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify(backend.faults.status())

    @app.delete("/_emulator/faults")
    def clear_faults():
        return jsonify({"cleared": backend.faults.clear()})

    @app.post("/_emulator/seed")
    def seed():
        data = _json_body()
        value = data.get("seed") if isinstance(data, dict) else None
        if isinstance(value, bool) or not isinstance(value, int):
            return jsonify({"error": 'expected {"seed": <integer>}'}), 400
        backend.seed(value)
        return jsonify({"seed": value})

    @app.route("/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/<path:path>", methods=_METHODS)
    def emulate(path: str):
        if delay:
            time.sleep(delay)  # holds one worker thread (THREADS of them), never the others
        answer = handle(backend, _emulator_request())
        if answer.abort is not None:
            raise ConnectionAbort(answer.abort)
        return Response(answer.body, status=answer.status, headers=answer.headers)

    return app


class _BadRequest(Exception):
    """A control request that cannot be done; answered 400 with its message."""


_UPLOAD_SHAPE = (
    '{"media_type": "video|audio|image|attached", "region": "cn-shanghai", '
    '"media_id": null, "extend": null, "file_name": null, "size": null, "created": null}'
)


def _json_body() -> Any:
    return flask_request.get_json(force=True, silent=True)


def _object(data: Any, shape: str) -> dict:
    if not isinstance(data, dict):
        raise _BadRequest(f"expected a JSON object: {shape}")
    return data


def _timeout(data: Any) -> float:
    """A wait's ``{"timeout": seconds}`` (0..600, default 30)."""
    timeout = data.get("timeout", 30) if isinstance(data, dict) else 30
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 600:
        raise _BadRequest('expected {"timeout": <seconds, 0..600>}')
    return float(timeout)


def _name_from(data: Any) -> str:
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise _BadRequest('expected {"name": "<name>"}')
    return name


#: The most media one ``POST /_emulator/media`` with ``count`` adds.
MAX_MEDIA_COUNT = 1_000_000


def _count_and_spacing(data: dict) -> tuple[Optional[int], float]:
    """Takes ``count`` and ``every`` out of a media request: how many to add (None: one, answered
    as its record) and the seconds between their CreationTimes (from ``created``, default now)."""
    count, every = data.pop("count", None), data.pop("every", None)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_MEDIA_COUNT):
        raise _BadRequest(f"count: a number of media from 1 to {MAX_MEDIA_COUNT}")
    if every is not None and (count is None or isinstance(every, bool) or not isinstance(every, (int, float)) or every < 0):
        raise _BadRequest("every: seconds (>= 0) between the CreationTimes of count media")
    return count, float(every or 0)


def _upload_args(data: dict) -> dict:
    allowed = {"media_type", "media", "region", "media_id", "extend", "file_name", "size", "created"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _BadRequest(f"unknown field(s) {', '.join(unknown)}: expected {_UPLOAD_SHAPE}")
    media_type = data.get("media_type") or data.get("media")
    if not isinstance(media_type, str) or not isinstance(data.get("region"), str):
        raise _BadRequest(f"media_type and region are required: {_UPLOAD_SHAPE}")
    size = data.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise _BadRequest("size: a number of bytes")
    extend = data.get("extend")
    if extend is not None and not isinstance(extend, (str, dict)):
        raise _BadRequest("extend: a JSON object or a string")
    args = {
        "media_type": media_type,
        "region": data["region"],
        "media_id": data.get("media_id") or None,
        "extend": extend,
        "file_name": data.get("file_name") or None,
        "size": size,
    }
    created = data.get("created")
    if created is not None:
        try:
            args["created"] = parse_utc(created) if isinstance(created, str) else float(created)
        except (TypeError, ValueError):
            raise _BadRequest("created: an ISO 8601 time (2024-05-01T08:00:00Z) or epoch seconds") from None
    return args


def _settings(backend: EmulatorBackend) -> dict:
    return {
        "strict_media": backend.strict_media,
        "param_max_lengths": backend.param_max_lengths,
        "default_region": backend.default_region,
        "account_id": backend.account_id,
        **backend.deliveries.settings(),
    }


def _emulator_request() -> EmulatorRequest:
    # Signatures cover the request as sent, so use the raw query string (Flask's parsed
    # args would lose '+' versus '%20') and the raw path when the server provides it.
    return EmulatorRequest.from_raw(
        flask_request.method,
        _raw_path(),
        flask_request.query_string.decode("utf-8", "replace"),
        dict(flask_request.headers),
        flask_request.get_data(),
    )


def _raw_path() -> str:
    target = flask_request.environ.get("RAW_URI") or flask_request.environ.get("REQUEST_URI")
    if not target:
        return flask_request.path
    path = target.split("?", 1)[0]
    if not path.startswith("/"):
        # Absolute-form target ("http://vod.<region>.aliyuncs.com/"): a client using us as proxy.
        path = urlsplit(path).path or "/"
    return path


_MNS_HEADER = re.compile(rb"\r\nX-Mns-[A-Za-z-]+:")


def _abortable_channel_class():
    """waitress's HTTPChannel whose tasks turn a :class:`ConnectionAbort` into a dropped
    connection (imported late: waitress is only needed to serve)."""
    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    class _AbortableTask(WSGITask):
        def build_response_header(self) -> bytes:
            # waitress capitalizes header names; MNS sends its own in lower case, and the
            # official MNS SDK looks ``x-mns-request-id`` up case-sensitively.
            return _MNS_HEADER.sub(lambda m: m.group(0).lower(), super().build_response_header())

        def service(self) -> None:
            try:
                super().service()
            except ConnectionAbort as abort:
                if self.wrote_header:  # cannot happen: the app raises before answering
                    raise
                sock = self.channel.socket
                try:
                    if abort.kind == ABORT_RESET:
                        # Linger 0: close() discards everything and sends RST.
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    else:
                        sock.shutdown(socket.SHUT_RDWR)  # FIN now; the main loop closes it
                except OSError:
                    pass  # the client went away already
                # waitress closes the channel (in its main loop) once this task ends.
                self.close_on_finish = True

    class _AbortableChannel(HTTPChannel):
        task_class = _AbortableTask

    return _AbortableChannel


def make_server(
    backend: EmulatorBackend,
    host: str = "127.0.0.1",
    port: int = 9100,
    *,
    threads: int = THREADS,
    latency_ms: float = 0.0,
):
    """A waitress server for ``backend`` (not started: call ``run()``, stop with ``close()``);
    ``latency_ms`` as :func:`create_app` takes it."""
    from waitress import create_server
    from waitress.server import BaseWSGIServer

    dispatchers: dict = {}
    server = create_server(create_app(backend, latency_ms=latency_ms), map=dispatchers, host=host, port=port, threads=threads)
    channel_class = _abortable_channel_class()
    for dispatcher in [server, *dispatchers.values()]:
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel_class
    return server


def serve(
    backend: EmulatorBackend,
    host: str = "127.0.0.1",
    port: int = 9100,
    *,
    on_ready: Optional[Callable[[str], None]] = None,
    latency_ms: float = 0.0,
) -> None:
    """Serve until interrupted. ``port=0`` picks a free port; ``on_ready`` gets the URL once
    the socket is bound, so a caller can announce it without a race; ``latency_ms`` delays
    every VOD and MNS answer (:func:`create_app`).
    """
    server = make_server(backend, host, port, latency_ms=latency_ms)
    backend.start_ticker()  # after_seconds jobs finish (and their events go out) on time
    if on_ready is not None:
        on_ready(f"http://{host}:{server.effective_port}")
    try:
        server.run()
    finally:
        server.close()
        backend.close()
