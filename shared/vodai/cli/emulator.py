"""``vodai emulator``: run the VOD + MNS emulator as a local HTTP server.

Point the official SDKs (or vodai's clients) at the printed URL. Secrets are best given
through the environment (ALIBABA_CLOUD_ACCESS_KEY_SECRET...) so they stay out of ``ps``.
"""

from __future__ import annotations

import logging
import sys

import click

from vodai.emulator import EmulatorBackend


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=9100, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--access-key-id", envvar="ALIBABA_CLOUD_ACCESS_KEY_ID", required=True,
    help="AccessKey ID the emulator accepts.",
)
@click.option(
    "--access-key-secret", envvar="ALIBABA_CLOUD_ACCESS_KEY_SECRET", required=True,
    help="Its secret.",
)
@click.option(
    "--security-token", envvar="ALIBABA_CLOUD_SECURITY_TOKEN", default=None,
    help="STS token every request with this key must carry.",
)
@click.option(
    "--topic", "topics", multiple=True, default=("vodai-callback",), show_default=True,
    help="MNS topic to create (repeatable).",
)
@click.option(
    "--region", default="cn-shanghai", show_default=True,
    help="Region of requests that name none.",
)
def emulator(
    host: str,
    port: int,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None,
    topics: tuple[str, ...],
    region: str,
) -> None:
    """Run the VOD + MNS emulator until interrupted."""
    from vodai.emulator.server import serve

    # One line per request on stderr, from the backend's already-sanitized log entries.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("vodai.emulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    backend = EmulatorBackend(default_region=region)
    backend.add_credentials(access_key_id, access_key_secret, security_token)
    for topic in topics:
        backend.create_topic(topic)

    def announce(url: str) -> None:
        click.echo(f"vodai emulator listening on {url}")
        sys.stdout.flush()  # a parent process waits for this line

    try:
        serve(backend, host, port, on_ready=announce)
    except KeyboardInterrupt:
        pass
