"""``vodai serve``: run a function behind the FC custom-runtime shim on this machine.

Drive it exactly as FC does, e.g.
``curl -X POST 127.0.0.1:9000/invoke -H 'Content-Type: application/octet-stream' --data-binary @event.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from vodai.runtime.registry import REGISTRY


@click.command()
@click.option(
    "--function", "function_name", envvar="VODAI_FUNCTION", required=True,
    type=click.Choice(sorted(REGISTRY)), help="The function to serve (or VODAI_FUNCTION).",
)
@click.option(
    "--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one and prints it).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--functions-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
    help="Folder holding <function>/index.py (default: functions/ of this checkout).",
)
def serve(function_name: str, port: int, host: str, functions_dir: Optional[Path]) -> None:
    """Serve FUNCTION over FC's custom-runtime contract: POST /invoke, POST /initialize, and
    every other request passed through to an HTTP function. Logs in FC's format on stderr."""
    from vodai.runtime.app import create_app, initialize_now
    from vodai.runtime.server import serve as run

    from ..exceptions import VodaiError
    from .errors import listening

    app = create_app(function_name, functions_dir=functions_dir)
    # /initialize now, before listening: a misconfigured function refuses to start here, as
    # its /initialize would on FC.
    try:
        initialize_now(app, function_name)
    except VodaiError as exc:
        raise click.ClickException(f"{function_name} refuses to start: {exc}") from None

    def announce(url: str) -> None:
        click.echo(f"vodai serve: {function_name} listening on {url}")
        sys.stdout.flush()  # a parent process waits for this line

    try:
        with listening(host, port):
            run(app, host, port, on_ready=announce)
    except KeyboardInterrupt:
        pass
