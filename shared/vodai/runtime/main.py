"""The deployed entry point: ``bootstrap`` execs ``python -m vodai.runtime.main``.

Serves the shim under waitress on ``0.0.0.0:$FC_SERVER_PORT`` (9000 by default, FC's CAPort).
The function comes from ``VODAI_FUNCTION`` (template.yml sets it per function); when it is
unset, each request's ``x-fc-function-name`` header names a registry function instead
(``on-upload`` matches ``on_upload``).
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional

from ..config import unknown_variables
from ..exceptions import VodaiError
from .app import create_app, initialize_now
from .registry import FunctionNotFound
from .server import serve

HOST = "0.0.0.0"  # FC connects from outside the instance's loopback
DEFAULT_PORT = 9000
READY = "vodai runtime: {name} listening on {url}"


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if environ is None else environ
    name = env.get("VODAI_FUNCTION") or None
    try:
        port = int(env.get("FC_SERVER_PORT") or DEFAULT_PORT)
        app = create_app(name)
    except (ValueError, FunctionNotFound) as exc:
        # Fail the start loudly: FC shows the instance's output when bootstrap exits.
        print(f"vodai runtime: {exc}", file=sys.stderr, flush=True)
        return 2
    for warning in unknown_variables(env):
        print(f"vodai runtime: warning: {warning}", file=sys.stderr, flush=True)
    if name is not None:
        try:
            initialize_now(app, name)  # bad settings refuse the start, before listening
        except VodaiError as exc:
            print(f"vodai runtime: {name} refuses to start: {exc}", file=sys.stderr, flush=True)
            return 2

    def announce(url: str) -> None:
        print(READY.format(name=name or "(x-fc-function-name)", url=url), flush=True)

    serve(app, HOST, port, on_ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
