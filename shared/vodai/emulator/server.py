"""The over-the-wire front door: a Flask app around the same handler, and a small control API.

Flask (and waitress) are imported only here, so ``import vodai.emulator`` stays light.

Control API (JSON, no authentication, for tests that drive a server process):
``GET /_emulator/topics/<name>/messages``, ``GET /_emulator/queues/<name>/messages``,
``GET /_emulator/jobs``, ``GET /_emulator/requests``, ``POST /_emulator/reset``,
``GET|POST|DELETE /_emulator/faults`` (list, add one rule or a list of rules, clear) and
``POST /_emulator/seed`` ``{"seed": n}``.

Injected ``reset`` and ``lost`` faults fail the TCP connection itself, without any HTTP
answer: the view raises :class:`ConnectionAbort`, which passes through Flask, and the
waitress task (:class:`_AbortableTask`) catches it before anything was written. For
``reset`` it sets ``SO_LINGER`` to zero so that closing the socket sends an RST (the client
sees ``ConnectionResetError``); for ``lost`` the socket is shut down and closed normally
(FIN, the client sees ``RemoteDisconnected``). Either way waitress then closes the channel
in its main loop, as it does for any connection it drops.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify
from flask import request as flask_request

from .backend import EmulatorBackend
from .faults import FaultSpecError, parse_fault
from .protocol import handle
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
    def handle_exception(self, e: Exception):  # type: ignore[override]
        # Not a server error: let the abort reach the WSGI server untouched.
        if isinstance(e, ConnectionAbort):
            raise e
        return super().handle_exception(e)


def create_app(backend: EmulatorBackend) -> Flask:
    app = _EmulatorFlask("vodai.emulator")

    @app.get("/_emulator/topics/<name>/messages")
    def topic_messages(name: str):
        try:
            return jsonify(backend.topic_messages(name))
        except KeyError:
            return jsonify({"error": f"topic {name!r} does not exist"}), 404

    @app.get("/_emulator/queues/<name>/messages")
    def queue_messages(name: str):
        try:
            return jsonify(backend.queue_messages(name))
        except KeyError:
            return jsonify({"error": f"queue {name!r} does not exist"}), 404

    @app.get("/_emulator/jobs")
    def jobs():
        return jsonify(backend.jobs())

    @app.get("/_emulator/requests")
    def requests_log():
        return jsonify(backend.requests_log())

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
        backend.faults.seed(value)
        return jsonify({"seed": value})

    @app.route("/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/<path:path>", methods=_METHODS)
    def emulate(path: str):
        answer = handle(backend, _emulator_request())
        if answer.abort is not None:
            raise ConnectionAbort(answer.abort)
        return Response(answer.body, status=answer.status, headers=answer.headers)

    return app


def _json_body() -> Any:
    return flask_request.get_json(force=True, silent=True)


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


def _abortable_channel_class():
    """waitress's HTTPChannel whose tasks turn a :class:`ConnectionAbort` into a dropped
    connection (imported late: waitress is only needed to serve)."""
    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    class _AbortableTask(WSGITask):
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
    backend: EmulatorBackend, host: str = "127.0.0.1", port: int = 9100, *, threads: int = THREADS
):
    """A waitress server for ``backend`` (not started: call ``run()``, stop with ``close()``)."""
    from waitress import create_server
    from waitress.server import BaseWSGIServer

    dispatchers: dict = {}
    server = create_server(create_app(backend), map=dispatchers, host=host, port=port, threads=threads)
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
) -> None:
    """Serve until interrupted. ``port=0`` picks a free port; ``on_ready`` gets the URL once
    the socket is bound, so a caller can announce it without a race.
    """
    server = make_server(backend, host, port)
    if on_ready is not None:
        on_ready(f"http://{host}:{server.effective_port}")
    try:
        server.run()
    finally:
        server.close()
