"""The over-the-wire front door: a Flask app around the same handler, and a small control API.

Flask (and waitress) are imported only here, so ``import vodai.emulator`` stays light.

Control API (JSON, no authentication, for tests that drive a server process):
``GET /_emulator/topics/<name>/messages``, ``GET /_emulator/jobs``,
``GET /_emulator/requests``, ``POST /_emulator/reset``.
"""

from __future__ import annotations

from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify
from flask import request as flask_request

from .backend import EmulatorBackend
from .protocol import handle
from .request import EmulatorRequest

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def create_app(backend: EmulatorBackend) -> Flask:
    app = Flask("vodai.emulator")

    @app.get("/_emulator/topics/<name>/messages")
    def topic_messages(name: str):
        try:
            return jsonify(backend.topic_messages(name))
        except KeyError:
            return jsonify({"error": f"topic {name!r} does not exist"}), 404

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

    @app.route("/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/<path:path>", methods=_METHODS)
    def emulate(path: str):
        answer = handle(backend, _emulator_request())
        return Response(answer.body, status=answer.status, headers=answer.headers)

    return app


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
    from waitress import create_server

    server = create_server(create_app(backend), host=host, port=port, threads=8)
    if on_ready is not None:
        on_ready(f"http://{host}:{server.effective_port}")
    try:
        server.run()
    finally:
        server.close()
