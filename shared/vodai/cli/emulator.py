"""``vodai emulator``: run the VOD + MNS emulator as a local HTTP server.

Point the official SDKs (or vodai's clients) at the printed URL. Secrets are best given
through the environment (ALIBABA_CLOUD_ACCESS_KEY_SECRET...) so they stay out of ``ps``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional

import click

from vodai.emulator import EmulatorBackend
from vodai.emulator.faults import FaultRule, FaultSpecError


class FaultSpec(click.ParamType):
    """A ``--fault`` value: the compact spec or a JSON object (vodai.emulator.faults)."""

    name = "SPEC"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> FaultRule:
        if isinstance(value, FaultRule):
            return value
        try:
            return FaultRule.parse(str(value))
        except FaultSpecError as exc:
            self.fail(str(exc), param, ctx)


FAULT_SPEC = FaultSpec()

FAULT_HELP = """\b
Fault injection (--fault, repeatable; rules are tried in order, the first that fires wins):
  SPEC := OPERATION:ITEM[,ITEM...]   or a JSON object
  OPERATION: SubmitAIImageJob, SubmitAIImageAuditJob, GetAIImageJobs,
             PublishMessage, SendMessage, or * (every operation)
  ITEM:
    error=CODE[/STATUS]  answer CODE with HTTP STATUS in the service's envelope;
                         nothing is processed. STATUS may be left out for Throttling,
                         Throttling.User, Throttling.Api (400), InternalError (500),
                         ServiceUnavailable (503)
    reset                reset the connection before the request is processed
    lost                 process the request, then close the connection unanswered
    latency=SECONDS      wait before processing (alone, or with one of the above)
    p=PROBABILITY        fire with this probability (0..1, default 1; see --seed)
    times=N              fire N times, then never again
  One of error/reset/lost per rule. JSON: {"operation": "...", "kind": "error",
  "code": "...", "status": 400, "message": "...", "latency": 0, "probability": 1,
  "times": null}.

\b
Examples:
  --fault 'SubmitAIImageJob:error=Throttling.User/400,p=0.1' --seed 7
  --fault 'PublishMessage:reset,times=2'
  --fault '*:latency=0.5'
  --fault 'SubmitAIImageJob:lost,times=1'

Change the rules of a running emulator with `vodai emulator-faults` or its control API
(POST/GET/DELETE /_emulator/faults, POST /_emulator/seed).
"""


@click.command(epilog=FAULT_HELP)
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
    "--queue", "queues", multiple=True,
    help="MNS queue to create, e.g. a dead-letter queue (repeatable).",
)
@click.option(
    "--region", default="cn-shanghai", show_default=True,
    help="Region of requests that name none.",
)
@click.option(
    "--fault", "faults", multiple=True, type=FAULT_SPEC,
    help="Fault rule, e.g. 'SubmitAIImageJob:error=Throttling.User/400,p=0.1' (repeatable; grammar below).",
)
@click.option(
    "--seed", type=int, default=None,
    help="Seed of the fault probability draws, so a run repeats.",
)
def emulator(
    host: str,
    port: int,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None,
    topics: tuple[str, ...],
    queues: tuple[str, ...],
    region: str,
    faults: tuple[FaultRule, ...],
    seed: int | None,
) -> None:
    """Run the VOD + MNS emulator until interrupted."""
    from vodai.emulator.server import serve

    # One line per request on stderr, from the backend's already-sanitized log entries.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("vodai.emulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    backend = EmulatorBackend(default_region=region, seed=seed)
    backend.add_credentials(access_key_id, access_key_secret, security_token)
    for topic in topics:
        backend.create_topic(topic)
    for queue in queues:
        backend.create_queue(queue)
    backend.faults.extend(faults)
    for rule in faults:
        log.info("fault rule %s", rule.spec())

    def announce(url: str) -> None:
        click.echo(f"vodai emulator listening on {url}")
        sys.stdout.flush()  # a parent process waits for this line

    try:
        serve(backend, host, port, on_ready=announce)
    except KeyboardInterrupt:
        pass
