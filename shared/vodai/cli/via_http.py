"""``vodai invoke --via-http``: each event goes through the FC runtime shim over HTTP, as FC sends it.

Starts, in this process, the shim for on_upload on a free port and (unless --cloud) the emulator
as a real HTTP server, then POSTs every event to ``/invoke`` with the x-fc-* headers FC sends.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from typing import Callable, Optional

import requests
from werkzeug.serving import make_server

from .. import handler
from ..credentials import Credentials
from ..exceptions import InvocationError
from ..local import emulator_variables
from ..local_context import LocalContext, LocalCredentials
from ..pipeline import InvocationResult
from ..runtime.headers import headers_from_context

FUNCTION = "on_upload"


def _constant(creds: LocalCredentials) -> Callable[[], Optional[LocalCredentials]]:
    return lambda: creds


def _local(source: Callable[[], Credentials]) -> Callable[[], Optional[LocalCredentials]]:
    def current() -> LocalCredentials:
        creds = source()
        return LocalCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token)

    return current


class _Server:
    def __init__(self, app) -> None:
        # No request log: werkzeug's lines carry colour codes even into a pipe, and the shim
        # logs every invocation already.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()


class HttpTarget:
    def __init__(self, shim: _Server, emulator: Optional[_Server], credentials: Callable[[], Optional[LocalCredentials]]) -> None:
        self.shim, self.emulator, self.credentials = shim, emulator, credentials
        self.session = requests.Session()

    @classmethod
    def start(cls, *, cloud: bool = False, credentials: Optional[Callable[[], Credentials]] = None) -> "HttpTarget":
        """The shim (and, unless ``cloud``, the emulator) serving on free ports. ``credentials``:
        where each invocation's context gets its credentials with ``cloud`` (FC 2.0's way);
        refused settings raise :class:`~vodai.exceptions.ConfigError` before anything serves."""
        from ..runtime import create_app
        from ..runtime.app import initialize_now

        emulator: Optional[_Server] = None
        source: Optional[Callable[[], Optional[LocalCredentials]]] = None
        if not cloud:
            from ..emulator import EmulatorBackend
            from ..emulator import create_app as emulator_app

            fixed = LocalCredentials("STS.emulator" + secrets.token_hex(6), secrets.token_urlsafe(24), secrets.token_urlsafe(32))
            backend = EmulatorBackend()
            backend.add_credentials(fixed.access_key_id, fixed.access_key_secret, security_token=fixed.security_token)
            emulator = _Server(emulator_app(backend))
            # The same settings as the in-process emulator: its namespace, and a store of its own.
            os.environ.update(emulator_variables(os.environ, emulator.url))
            backend.create_topic(os.environ["VODAI_CALLBACK_TOPIC"])
            source = _constant(fixed)
        elif credentials is not None:
            source = _local(credentials)
        handler.reset()  # the shim's handler reads the settings just set
        app = create_app(FUNCTION)
        try:
            initialize_now(app, FUNCTION)  # as FC's /initialize: bad settings refuse here, once
        except BaseException:
            if emulator is not None:
                emulator.close()
            raise
        return cls(_Server(app), emulator, source or (lambda: None))

    def new_context(self) -> LocalContext:
        context = LocalContext(region=os.environ.get("VODAI_REGION", "cn-shanghai"), credentials=self.credentials())
        context.function.name = FUNCTION
        return context

    def invoke(self, raw: bytes, context: LocalContext) -> InvocationResult:
        headers = {"Content-Type": "application/octet-stream", **headers_from_context(context)}
        response = self.session.post(f"{self.shim.url}/invoke", data=raw, headers=headers, timeout=300)
        if response.status_code == 200:
            return InvocationResult.from_dict(response.json())
        # FC's failure contract: 404 + x-fc-status; vodai's failure message is the result summary.
        error = response.json()
        try:
            return InvocationResult.from_dict(json.loads(error["errorMessage"]))
        except (KeyError, ValueError):
            raise InvocationError(f"{FUNCTION} failed: {error.get('errorType')}: {error.get('errorMessage')}") from None

    def close(self) -> None:
        self.shim.close()
        if self.emulator:
            self.emulator.close()
