"""``vodai demo-upload``: the local end-to-end demo (see vodai.demo)."""

from __future__ import annotations

import sys

import click


@click.command("demo-upload")
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for every step.")
def demo_upload(timeout: float) -> None:
    """Start the emulator and the functions as servers, upload a video (cn-shanghai) and an image
    (ap-southeast-1), and print each step as it happens: callback, submit, JobId message, job done,
    completion message."""
    from ..demo import run

    sys.exit(run(timeout))
