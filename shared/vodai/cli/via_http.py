"""``vodai invoke --via-http``: each event goes through the FC runtime shim over HTTP, as FC sends it.

Starts, in this process, the shim for on_upload on a free port and (unless --cloud) the emulator
as a real HTTP server, then POSTs every event to ``/invoke`` with the x-fc-* headers FC sends.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from typing import Optional

import requests
from werkzeug.serving import make_server

from .. import handler
from ..local import EMULATOR_DEFAULTS
from ..local_context import LocalContext, LocalCredentials
from ..pipeline import InvocationResult
from ..runtime.headers import headers_from_context

FUNCTION = "on_upload"


class _Server:
    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()


class HttpTarget:
    def __init__(self, shim: _Server, emulator: Optional[_Server], credentials: Optional[LocalCredentials]) -> None:
        self.shim, self.emulator, self.credentials = shim, emulator, credentials
        self.session = requests.Session()

    @classmethod
    def start(cls, *, cloud: bool = False) -> "HttpTarget":
        from ..runtime import create_app

        emulator, creds = None, None
        if not cloud:
            from ..emulator import EmulatorBackend
            from ..emulator import create_app as emulator_app

            creds = LocalCredentials("STS.emulator" + secrets.token_hex(6), secrets.token_urlsafe(24), secrets.token_urlsafe(32))
            backend = EmulatorBackend()
            backend.add_credentials(creds.access_key_id, creds.access_key_secret, security_token=creds.security_token)
            emulator = _Server(emulator_app(backend))
            for name, value in EMULATOR_DEFAULTS.items():
                os.environ.setdefault("VODAI_" + name.upper(), value)
            os.environ["VODAI_VOD_ENDPOINT"] = os.environ["VODAI_MNS_ENDPOINT"] = emulator.url
            backend.create_topic(os.environ["VODAI_CALLBACK_TOPIC"])
        handler.reset()  # the shim's handler reads the settings just set
        return cls(_Server(create_app(FUNCTION)), emulator, creds)

    def new_context(self) -> LocalContext:
        context = LocalContext(region=os.environ.get("VODAI_REGION", "cn-shanghai"), credentials=self.credentials)
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
            raise RuntimeError(f"{error.get('errorType')}: {error.get('errorMessage')}") from None

    def close(self) -> None:
        self.shim.close()
        if self.emulator:
            self.emulator.close()
