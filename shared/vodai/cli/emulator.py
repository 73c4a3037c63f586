"""``vodai emulator``: run the VOD + MNS emulator as a local HTTP server, and drive it.

``vodai emulator [OPTIONS]`` (no subcommand) runs the server, exactly as before. Point the
official SDKs (or vodai's clients) at the printed URL. Secrets are best given through the
environment (ALIBABA_CLOUD_ACCESS_KEY_SECRET...) so they stay out of ``ps``.

The subcommands talk to a running emulator's control API (``--url``, or VODAI_EMULATOR_URL):
``upload``, ``media``, ``jobs``, ``callback``, ``triggers``, ``queue-triggers``, ``lifecycle``, ``deliveries``,
``requests``, ``messages``, ``state``, ``settings``, ``advance``, ``reset`` and ``faults`` (the
same as ``vodai emulator-faults``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import click

from vodai.emulator import EmulatorBackend
from vodai.emulator.callbacks import CallbackConfig, CallbackSpecError, Subscription, check_url
from vodai.emulator.delivery import retry_interval
from vodai.emulator.faults import FaultRule, FaultSpecError
from vodai.emulator.lifecycle import LifecycleRule, LifecycleSpecError
from vodai.emulator.queue_trigger import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_VISIBILITY_TIMEOUT,
    MAX_BATCH_SIZE,
    MAX_BATCH_WINDOW,
    MAX_CONCURRENCY,
    MAX_VISIBILITY_TIMEOUT,
    QueueTrigger,
)

DEFAULT_URL = "http://127.0.0.1:9100"


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


class LifecycleSpec(click.ParamType):
    """A ``--lifecycle`` value (vodai.emulator.lifecycle)."""

    name = "SPEC"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> LifecycleRule:
        if isinstance(value, LifecycleRule):
            return value
        try:
            return LifecycleRule.parse(str(value))
        except LifecycleSpecError as exc:
            self.fail(str(exc), param, ctx)


class TriggerSpec(click.ParamType):
    """A ``--trigger`` value: TOPIC=URL[,format=JSON]... (vodai.emulator.callbacks)."""

    name = "TOPIC=URL"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Subscription:
        if isinstance(value, Subscription):
            return value
        try:
            return Subscription.parse(str(value))
        except CallbackSpecError as exc:
            self.fail(str(exc), param, ctx)


class QueueTriggerSpec(click.ParamType):
    """A ``--queue-trigger`` value: QUEUE=URL[,url=URL...][,batch=N]... (vodai.emulator.queue_trigger)."""

    name = "QUEUE=URL"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> QueueTrigger:
        if isinstance(value, QueueTrigger):
            return value
        try:
            return QueueTrigger.parse(str(value))
        except CallbackSpecError as exc:
            self.fail(str(exc), param, ctx)


class MnsTarget(click.ParamType):
    """``topic:NAME`` or ``queue:NAME``."""

    name = "topic:NAME|queue:NAME"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> CallbackConfig:
        if isinstance(value, CallbackConfig):
            return value
        try:
            return CallbackConfig.mns(str(value))
        except CallbackSpecError as exc:
            self.fail(str(exc), param, ctx)


FAULT_SPEC = FaultSpec()
LIFECYCLE_SPEC = LifecycleSpec()
TRIGGER_SPEC = TriggerSpec()
QUEUE_TRIGGER_SPEC = QueueTriggerSpec()
MNS_TARGET = MnsTarget()

FAULT_HELP = """\b
Fault injection (--fault, repeatable; rules are tried in order, the first that fires wins):
  SPEC := OPERATION:ITEM[,ITEM...]   or a JSON object
  OPERATION: SubmitAIImageJob, SubmitAIImageAuditJob, GetAIImageJobs,
             GetAIMediaAuditJob, PublishMessage, SendMessage, or * (every operation)
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

Change the rules of a running emulator with `vodai emulator faults` (or
`vodai emulator-faults`) or its control API (POST/GET/DELETE /_emulator/faults,
POST /_emulator/seed).
"""

LIFECYCLE_HELP = """\b
Job lifecycle (--lifecycle, repeatable; one rule per submit action, the last wins):
  SPEC := ACTION:ITEM[,ITEM...]      or a JSON object
  ACTION: SubmitAIImageJob, SubmitAIImageAuditJob, or * (both)
  ITEM:
    at_once              finished when the submit returns
    after_queries=N      the first N queries (GetAIImageJobs / GetAIMediaAuditJob)
                         see Processing, query N+1 sees the result
    after_seconds=T      finished T seconds (emulator clock) after the submit
    never                stays Processing
    outcome=success|fail how it ends (default success)
    code=CODE            the failure's Code (default ProcessFailed)
    message=TEXT         the failure's Message (no commas; JSON form for more)
    p_fail=P             a success rule fails with probability P (seeded, see --seed)
    suggestion=S         audit only: force pass, review or block
  Default for both actions: after_queries=1,outcome=success.

\b
Examples:
  --lifecycle 'SubmitAIImageJob:after_queries=2'
  --lifecycle 'SubmitAIImageAuditJob:after_seconds=30,suggestion=block'
  --lifecycle '*:at_once,p_fail=0.1' --seed 7
"""

DELIVERY_HELP = """\b
VOD's callback (where upload and AIMediaAuditComplete events go; for every region):
  --callback-url URL [--callback-auth-key KEY]   HTTP POST, signed with X-VOD-TIMESTAMP /
      X-VOD-SIGNATURE when a key is set; only HTTP 200 within 5 s counts, else 2 more
      tries 1 s apart, then the event is dropped
  --callback-mns queue:NAME|topic:NAME           the event becomes an MNS message
Topic triggers (FC MNS topic trigger -> POST URL/invoke of `vodai serve`):
  --trigger TOPIC=URL[,format=STREAM|JSON][,function=NAME][,tag=FILTER_TAG]
Queue triggers (FC MNS queue trigger: batches of CloudEvents -> POST URL/invoke, one
instance per URL; deleted on success, else received again after the visibility timeout):
  --queue-trigger QUEUE=URL[,url=URL...][,batch=N][,window=S][,concurrency=N]
      [,visibility=S][,max_receives=N,dead_letter=QUEUE][,function=NAME][,region=R]
Per-region callbacks: `vodai emulator callback set --region R ...` or PUT /_emulator/callback.
"""


def _call(url: str, method: str, path: str, payload: Optional[Any] = None, *, timeout: float = 10) -> Any:
    """JSON from the control API of the emulator at ``url``; a refusal becomes a ClickException."""
    import requests

    target = f"{url.rstrip('/')}/_emulator/{path}"
    try:
        response = requests.request(method, target, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the emulator at {url}: {type(exc).__name__}") from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        reason = data.get("error") if isinstance(data, dict) else None
        raise click.ClickException(
            f"the emulator at {url} refused: {reason or f'HTTP {response.status_code}'}"
        )
    return data


url_option = click.option(
    "--url", envvar="VODAI_EMULATOR_URL", default=DEFAULT_URL, show_default=True,
    help="Base URL of the running emulator (or VODAI_EMULATOR_URL).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _EmulatorGroup(click.Group):
    """The server command, with client subcommands; ``faults`` is loaded on use (it imports
    this module)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "faults"})

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name == "queue-trigger":  # the singular reads naturally too
            name = "queue-triggers"
        if name == "faults":
            from .emulator_faults import emulator_faults

            return emulator_faults
        return super().get_command(ctx, name)


@click.group(
    cls=_EmulatorGroup,
    invoke_without_command=True,
    epilog=FAULT_HELP + "\n" + LIFECYCLE_HELP + "\n" + DELIVERY_HELP,
    subcommand_metavar="[COMMAND [ARGS]...]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=9100, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--access-key-id", envvar="ALIBABA_CLOUD_ACCESS_KEY_ID", default=None,
    help="AccessKey ID the emulator accepts (required to run the server).",
)
@click.option(
    "--access-key-secret", envvar="ALIBABA_CLOUD_ACCESS_KEY_SECRET", default=None,
    help="Its secret (required to run the server).",
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
    help="Seed of the fault and lifecycle draws and of job results, so a run repeats.",
)
@click.option(
    "--lifecycle", "lifecycle", multiple=True, type=LIFECYCLE_SPEC,
    help="Job lifecycle rule, e.g. 'SubmitAIImageJob:after_queries=2' (repeatable; grammar below).",
)
@click.option("--callback-url", default=None, help="VOD's HTTP callback URL (every region).")
@click.option(
    "--callback-auth-key", envvar="VODAI_EMULATOR_CALLBACK_AUTH_KEY", default=None,
    help="Its auth key (or VODAI_EMULATOR_CALLBACK_AUTH_KEY): signs X-VOD-SIGNATURE.",
)
@click.option(
    "--callback-mns", type=MNS_TARGET, default=None,
    help="Deliver VOD's events to an emulator queue or topic instead (created if missing).",
)
@click.option(
    "--trigger", "triggers", multiple=True, type=TRIGGER_SPEC,
    help="FC MNS topic trigger TOPIC=URL[,format=JSON] (repeatable; the topic is created).",
)
@click.option(
    "--queue-trigger", "queue_triggers", multiple=True, type=QUEUE_TRIGGER_SPEC,
    help="FC MNS queue trigger QUEUE=URL[,url=URL...][,batch=N] (repeatable; the queue is created).",
)
@click.option(
    "--strict-media", is_flag=True,
    help="Submit* on a media id the emulator never saw fails (InvalidVideo.NotFound...).",
)
@click.option(
    "--state", "state_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Load the state from FILE at start (if it exists) and save it there at exit.",
)
@click.option(
    "--trigger-retry-interval", default="10-20", show_default=True,
    help="Seconds between topic-trigger attempts: N or LOW-HIGH (FC: 10-20).",
)
@click.option(
    "--callback-retry-interval", type=click.FloatRange(0), default=1.0, show_default=True,
    help="Seconds between HTTP-callback attempts (VOD: 1).",
)
@click.option(
    "--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True,
    help="Delay every VOD and MNS answer this long, like a round trip to the cloud (e.g. 20).",
)
@click.option(
    "-q", "--quiet", is_flag=True,
    help="No line per VOD or MNS request nor per delivery that got through on stderr (`vodai emulator requests` "
         "and `deliveries` still show them), e.g. for a backfill of many media; failures and the other lines stay.",
)
@click.pass_context
def emulator(
    ctx: click.Context,
    host: str,
    port: int,
    access_key_id: str | None,
    access_key_secret: str | None,
    security_token: str | None,
    topics: tuple[str, ...],
    queues: tuple[str, ...],
    region: str,
    faults: tuple[FaultRule, ...],
    seed: int | None,
    lifecycle: tuple[LifecycleRule, ...],
    callback_url: str | None,
    callback_auth_key: str | None,
    callback_mns: CallbackConfig | None,
    triggers: tuple[Subscription, ...],
    queue_triggers: tuple[QueueTrigger, ...],
    strict_media: bool,
    state_file: Path | None,
    trigger_retry_interval: str,
    callback_retry_interval: float,
    latency_ms: float,
    quiet: bool,
) -> None:
    """Run the VOD + MNS emulator until interrupted, or (with a COMMAND) drive a running one."""
    if ctx.invoked_subcommand is not None:
        return
    for name, value in (("access_key_id", access_key_id), ("access_key_secret", access_key_secret)):
        if not value:
            param = next(p for p in ctx.command.params if p.name == name)
            raise click.MissingParameter(ctx=ctx, param=param)
    if callback_url and callback_mns is not None:
        raise click.UsageError("--callback-url and --callback-mns exclude each other")
    if callback_auth_key and not callback_url:
        raise click.UsageError("--callback-auth-key goes with --callback-url")
    try:
        interval = retry_interval(trigger_retry_interval)
        callback = CallbackConfig.http(callback_url, callback_auth_key) if callback_url else callback_mns
    except (ValueError, CallbackSpecError) as exc:
        raise click.UsageError(str(exc)) from None

    from vodai.emulator.server import serve

    from .errors import listening

    # One line per request on stderr, from the backend's already-sanitized log entries.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("vodai.emulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    logging.getLogger("vodai.emulator.traffic").setLevel(logging.WARNING if quiet else logging.NOTSET)

    backend = EmulatorBackend(default_region=region, seed=seed, strict_media=strict_media)
    backend.add_credentials(access_key_id, access_key_secret, security_token)  # type: ignore[arg-type]
    if state_file is not None and state_file.exists():
        try:
            backend.load_state(json.loads(state_file.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise click.ClickException(f"--state {state_file}: {exc}") from None
        backend.strict_media = backend.strict_media or strict_media
        if seed is not None:
            backend.seed(seed)
        log.info("state loaded from %s", state_file)
    for topic in topics:
        backend.create_topic(topic)
    for queue in queues:
        backend.create_queue(queue)
    if faults:
        backend.faults.clear()  # given rules replace any loaded with the state
        backend.faults.extend(faults)
    for rule in faults:
        log.info("fault rule %s", rule.spec())
    for lifecycle_rule in lifecycle:
        for one in backend.lifecycle.set(lifecycle_rule):
            log.info("lifecycle %s", one.spec())
    if callback is not None:
        if callback.kind == "mns" and callback.name:
            (backend.create_queue if callback.target == "queue" else backend.create_topic)(callback.name)
        backend.set_callback(config=callback)
        log.info("callback %s", callback.describe())
    for subscription in triggers:
        backend.subscribe(subscription)
        log.info("trigger %s", subscription.spec())
    for queue_trigger in queue_triggers:
        backend.queue_triggers.add(queue_trigger)  # logs its spec
    backend.deliveries.configure(
        trigger_retry_interval=interval, http_retry_interval=callback_retry_interval
    )

    def announce(url: str) -> None:
        click.echo(f"vodai emulator listening on {url}")
        sys.stdout.flush()  # a parent process waits for this line

    previous = None
    if state_file is not None:
        # A plain `kill` (SIGTERM) must save the state too: make it an interrupt.
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with listening(host, port):
            serve(backend, host, port, on_ready=announce, latency_ms=latency_ms)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if state_file is not None:
            _write_json(state_file, backend.state())
            log.info("state saved to %s", state_file)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _write_json(path: Path, data: Any) -> None:
    """Write atomically: a crash mid-write never leaves half a state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- client subcommands (a running emulator's control API) -----------------------------------

MEDIA_TYPES = click.Choice(["video", "audio", "image", "attached"])


def _extend(value: Optional[str]) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value  # VOD carries Extend as a string; non-JSON text is kept as is
    return parsed if isinstance(parsed, dict) else value


def _media_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--media", "media_type", type=MEDIA_TYPES, required=True, help="What was uploaded."),
            click.option("--region", required=True, help="The region it was uploaded in, e.g. cn-shanghai."),
            click.option("--media-id", default=None, help="Its id (default: a new 32-hex id)."),
            click.option("--extend", default=None, help="The upload's Extend (UserData.Extend), JSON."),
            click.option("--file-name", default=None, help="The uploaded file's name (its extension is kept)."),
            click.option("--size", type=click.IntRange(0), default=None, help="Size in bytes."),
        ]
    ):
        command = option(command)
    return command


def _media_payload(media_type: str, region: str, media_id: Optional[str], extend: Optional[str],
                   file_name: Optional[str], size: Optional[int]) -> dict[str, Any]:
    return {
        "media_type": media_type,
        "region": region,
        "media_id": media_id,
        "extend": _extend(extend),
        "file_name": file_name,
        "size": size,
    }


@emulator.command("upload")
@_media_options
@click.option("--wait", is_flag=True, help="Wait until the delivery is done and show it.")
@url_option
@json_option
def upload(media_type: str, region: str, media_id: Optional[str], extend: Optional[str],
           file_name: Optional[str], size: Optional[int], wait: bool, url: str, as_json: bool) -> None:
    """Tell the emulator that an upload finished: it records the media and delivers VOD's
    upload-complete event as its callback setting says."""
    result = _call(url, "POST", "uploads", _media_payload(media_type, region, media_id, extend, file_name, size))
    delivery = result.get("Delivery")
    if wait and delivery:
        _call(url, "POST", "deliveries/wait", {"timeout": 60}, timeout=70)
        log = _call(url, "GET", "deliveries")
        delivery = next((d for d in log if d["DeliveryId"] == delivery["DeliveryId"]), delivery)
        result["Delivery"] = delivery
    if as_json:
        _echo_json(result)
        return
    event = result["Event"]
    click.echo(f"{event['EventType']} {result['MediaId']} in {region}")
    if delivery is None:
        click.echo("not delivered: no callback is configured for this region")
    else:
        attempts = len(delivery.get("Attempts", []))
        click.echo(f"delivery {delivery['DeliveryId']}: {delivery['Kind']} {delivery['Target']} "
                   f"{delivery['Result']}" + (f" after {attempts} attempt(s)" if attempts else ""))


@emulator.group("media")
def media() -> None:
    """Seed or list the media the emulator knows."""


@media.command("add")
@_media_options
@url_option
@json_option
@click.option("--created", default=None, metavar="TIME",
              help="Its CreationTime, ISO 8601 UTC (e.g. 2024-05-01T08:00:00Z; default now): what SearchMedia lists by.")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=None, metavar="N",
              help="Add N such media in one request (new ids), the first created at --created.")
@click.option("--every", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --count: seconds between their CreationTimes (default 0: all at --created).")
def media_add(media_type: str, region: str, media_id: Optional[str], extend: Optional[str],
              file_name: Optional[str], size: Optional[int], created: Optional[str], count: Optional[int],
              every: Optional[float], url: str, as_json: bool) -> None:
    """Record a media as uploaded without delivering any event (e.g. for --strict-media, or a
    library that `vodai backfill` lists); --count N adds a library of N at once."""
    if every is not None and count is None:
        raise click.BadParameter("--every spaces the media of --count N: give --count too", param_hint="--every")
    if media_id is not None and count is not None:
        raise click.BadParameter("--media-id names one media: leave it out with --count", param_hint="--media-id")
    payload = _media_payload(media_type, region, media_id, extend, file_name, size)
    if created is not None:
        payload["created"] = created
    if count is not None:
        payload.update(count=count, every=every or 0)
    record = _call(url, "POST", "media", payload, timeout=max(10.0, (count or 0) / 1000))
    if as_json:
        _echo_json(record)
    elif count is not None:
        click.echo(f"added {record['Added']} {media_type} media in {region}")
    else:
        click.echo(f"{record['MediaType']} {record['MediaId']} in {record['Region']}: {record['FileUrl']}")


@media.command("list")
@url_option
@json_option
def media_list(url: str, as_json: bool) -> None:
    """Show the media records."""
    records = _call(url, "GET", "media")
    if as_json:
        _echo_json(records)
        return
    if not records:
        click.echo("no media")
    for record in records:
        click.echo(f"{record['MediaId']}  {record['MediaType']:<8} {record['Region']:<15} {record['FileName']}")


@emulator.command("jobs")
@click.option("--id", "job_id", default=None, help="Show one job in full.")
@url_option
@json_option
def jobs(job_id: Optional[str], url: str, as_json: bool) -> None:
    """Show the jobs with their states (and results with --json or --id)."""
    if job_id:
        _echo_json(_call(url, "GET", f"jobs/{job_id}"))
        return
    records = _call(url, "GET", "jobs")
    if as_json:
        _echo_json(records)
        return
    if not records:
        click.echo("no jobs")
    for job in records:
        media_id = job.get("VideoId") or job.get("MediaId")
        rule = (job.get("Lifecycle") or {}).get("Rule", "")
        click.echo(f"{job['JobId']}  {job['Type']:<13} {job['Region']:<15} {job['Status']:<10} "
                   f"{media_id}  queries={job.get('QueryCount', 0)}  {rule}")


@emulator.group("callback")
def callback() -> None:
    """Set, show or clear VOD's callback setting (per region, like SetMessageCallback)."""


@callback.command("set")
@click.option("--region", default=None, help="The region (default: every region without its own).")
@click.option("--http", "http_url", default=None, help="HTTP callback URL.")
@click.option("--auth-key", envvar="VODAI_EMULATOR_CALLBACK_AUTH_KEY", default=None, help="Its auth key.")
@click.option("--mns", "mns_target", default=None, metavar="queue:NAME|topic:NAME", help="Deliver to MNS instead.")
@click.option("--event-type", "event_types", multiple=True, help="Only these event types (repeatable).")
@url_option
def callback_set(region: Optional[str], http_url: Optional[str], auth_key: Optional[str],
                 mns_target: Optional[str], event_types: tuple[str, ...], url: str) -> None:
    """Set where the events of a region go."""
    if (http_url is None) == (mns_target is None):
        raise click.UsageError("give one of --http URL or --mns queue:NAME|topic:NAME")
    payload: dict[str, Any] = {"region": region, "event_types": list(event_types) or None}
    if http_url:
        payload.update(url=http_url, auth_key=auth_key)
    else:
        payload["mns"] = mns_target
    _print_callbacks(_call(url, "PUT", "callback", payload))


@callback.command("show")
@url_option
@json_option
def callback_show(url: str, as_json: bool) -> None:
    """Show the callback settings (auth keys are never shown)."""
    data = _call(url, "GET", "callback")
    _echo_json(data) if as_json else _print_callbacks(data)


@callback.command("clear")
@click.option("--region", default=None, help="The region (default: the every-region setting).")
@url_option
def callback_clear(region: Optional[str], url: str) -> None:
    """Remove a region's setting."""
    query = f"?region={region}" if region else ""
    cleared = _call(url, "DELETE", f"callback{query}")["cleared"]
    click.echo("cleared" if cleared else "nothing to clear")


def _print_callbacks(data: dict) -> None:
    if not data:
        click.echo("no callback configured: events are not delivered")
    for region, config in sorted(data.items()):
        where = (f"http {config['url']}" + (" (signed)" if config.get("auth_key_set") else "")
                 if config["kind"] == "http" else f"mns {config['target']}:{config['name']}")
        types = f"  events: {', '.join(config['event_types'])}" if config.get("event_types") else ""
        click.echo(f"{'every region' if region == '*' else region}: {where}{types}")


@emulator.group("triggers")
def triggers_group() -> None:
    """Add, list or remove FC MNS topic triggers (topic -> `vodai serve` /invoke)."""


@triggers_group.command("add")
@click.argument("specs", nargs=-1, required=True, type=TRIGGER_SPEC, metavar="TOPIC=URL[,format=JSON]...")
@url_option
def triggers_add(specs: tuple[Subscription, ...], url: str) -> None:
    """Subscribe functions to topics (a trigger of the same name is replaced)."""
    _print_triggers(_call(url, "POST", "triggers", [s.to_dict() for s in specs]))


@triggers_group.command("list")
@url_option
@json_option
def triggers_list(url: str, as_json: bool) -> None:
    """Show the triggers."""
    data = _call(url, "GET", "triggers")
    _echo_json(data) if as_json else _print_triggers(data)


@triggers_group.command("clear")
@click.option("--name", default=None, help="Only this subscription.")
@url_option
def triggers_clear(name: Optional[str], url: str) -> None:
    """Remove triggers."""
    removed = _call(url, "DELETE", "triggers" + (f"?name={name}" if name else ""))["removed"]
    click.echo(f"removed {removed} trigger{'s' if removed != 1 else ''}")


def _print_triggers(data: list) -> None:
    if not data:
        click.echo("no triggers")
    for item in data:
        click.echo(f"{item['name']}: {item['spec']}")


@emulator.group("queue-triggers")
def queue_triggers_group() -> None:
    """Add, list or remove FC MNS queue triggers (queue -> batches of CloudEvents -> `vodai serve`
    instances' /invoke)."""


@queue_triggers_group.command("add")
@click.option("--queue", required=True, help="The queue to poll (created if missing).")
@click.option("--target", "targets", multiple=True, required=True, metavar="URL",
              help="A `vodai serve` instance's base URL (repeatable: one per instance).")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Messages per invocation (template.yml's EventsBatchSize).")
@click.option("--batch-window", type=click.FloatRange(0, MAX_BATCH_WINDOW), default=0.0, show_default=True,
              help="Seconds to wait for a batch to fill (EventsBatchWindow; 0: send what is there).")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=1, show_default=True,
              help="Invocations in flight per instance.")
@click.option("--visibility-timeout", type=click.IntRange(1, MAX_VISIBILITY_TIMEOUT),
              default=DEFAULT_VISIBILITY_TIMEOUT, show_default=True,
              help="Seconds a batch stays invisible; an invocation not answered by then fails.")
@click.option("--max-receives", type=click.IntRange(1), default=None,
              help="With --dead-letter-queue: receives after which a failed message is moved there.")
@click.option("--dead-letter-queue", default=None, help="Where failed messages go after --max-receives.")
@click.option("--function", "function_name", default="on_upload", show_default=True,
              help="The function name the x-fc-* headers carry.")
@click.option("--region", default=None, help="The CloudEvents' aliyunregionid (default: the emulator's region).")
@click.option("--name", default=None, help="The trigger's name (default: <function>-<queue>); the same name replaces.")
@url_option
def queue_triggers_add(queue: str, targets: tuple[str, ...], batch_size: int, batch_window: float, concurrency: int,
                       visibility_timeout: int, max_receives: Optional[int], dead_letter_queue: Optional[str],
                       function_name: str, region: Optional[str], name: Optional[str], url: str) -> None:
    """Start a queue trigger on the running emulator."""
    if (max_receives is None) != (dead_letter_queue is None):
        raise click.UsageError("--max-receives and --dead-letter-queue go together: give both, or neither "
                               "(then a failed message is retried until it succeeds)")
    try:
        for target in targets:
            check_url(target, "--target")
        trigger = QueueTrigger(queue, targets, batch_size=batch_size, batch_window=batch_window, concurrency=concurrency,
                               visibility_timeout=visibility_timeout, max_receives=max_receives,
                               dead_letter_queue=dead_letter_queue, function_name=function_name, region=region,
                               name=name or "")
    except CallbackSpecError as exc:
        raise click.UsageError(str(exc)) from None
    _print_queue_triggers(_call(url, "POST", "queue-triggers", trigger.to_dict()))


@queue_triggers_group.command("list")
@click.option("--wait", is_flag=True, help="First wait until every trigger's queue is empty.")
@click.option("--timeout", type=click.FloatRange(0, 600), default=60.0, show_default=True,
              help="Seconds --wait waits at most for each queue.")
@url_option
@json_option
def queue_triggers_list(wait: bool, timeout: float, url: str, as_json: bool) -> None:
    """Show the queue triggers: settings, invocations, and each queue's depth."""
    if wait:
        for queue in sorted({t["queue"] for t in _call(url, "GET", "queue-triggers")}):
            answer = _call(url, "POST", f"queues/{queue}/wait", {"timeout": timeout}, timeout=timeout + 10)
            if not answer["empty"]:
                raise click.ClickException(f"queue {queue} still holds {answer['messages']} message(s) after "
                                           f"{timeout:g} s; wait longer with --timeout")
        _call(url, "POST", "deliveries/wait", {"timeout": timeout}, timeout=timeout + 10)
    data = _call(url, "GET", "queue-triggers")
    _echo_json(data) if as_json else _print_queue_triggers(data)


@queue_triggers_group.command("clear")
@click.option("--name", default=None, help="Only this trigger.")
@url_option
def queue_triggers_clear(name: Optional[str], url: str) -> None:
    """Stop and remove queue triggers."""
    removed = _call(url, "DELETE", "queue-triggers" + (f"?name={name}" if name else ""))["removed"]
    click.echo(f"removed {removed} queue trigger{'s' if removed != 1 else ''}")


def _print_queue_triggers(data: list) -> None:
    if not data:
        click.echo("no queue triggers")
    for item in data:
        click.echo(f"{item['name']}: {item['spec']}")
        depth = item.get("queue_depth")
        if depth is None:
            click.echo(f"  queue {item['queue']}: does not exist")
        else:
            click.echo(f"  queue {item['queue']}: {depth['visible']} visible, {depth['in_flight']} in flight, "
                       f"{depth['delayed']} delayed, {depth.get('sent', 0)} sent in all")
        click.echo(f"  invocations {item['invocations']} ({item['succeeded']} succeeded, {item['failed']} failed), "
                   f"messages {item['deleted']} deleted, {item['dead_lettered']} dead-lettered")
        for target in item["targets"]:
            click.echo(f"  {target['url']}  in flight {target['in_flight']}  invocations {target['invocations']}")
        if item.get("error"):
            click.echo(f"  error: {item['error']}")


@emulator.group("lifecycle", epilog=LIFECYCLE_HELP)
def lifecycle_group() -> None:
    """Set, show or reset how submitted jobs finish."""


@lifecycle_group.command("set", epilog=LIFECYCLE_HELP)
@click.argument("specs", nargs=-1, required=True, type=LIFECYCLE_SPEC, metavar="SPEC...")
@url_option
def lifecycle_set(specs: tuple[LifecycleRule, ...], url: str) -> None:
    """Set lifecycle rules (for jobs submitted from now on)."""
    _print_lifecycle(_call(url, "PUT", "lifecycle", [rule.to_dict() for rule in specs]))


@lifecycle_group.command("show")
@url_option
@json_option
def lifecycle_show(url: str, as_json: bool) -> None:
    """Show the rule of each action."""
    data = _call(url, "GET", "lifecycle")
    _echo_json(data) if as_json else _print_lifecycle(data)


@lifecycle_group.command("reset")
@url_option
def lifecycle_reset(url: str) -> None:
    """Back to the default rules."""
    _print_lifecycle(_call(url, "DELETE", "lifecycle"))


def _print_lifecycle(data: list) -> None:
    for rule in data:
        click.echo(rule["spec"])


@emulator.command("deliveries")
@click.option("--wait", is_flag=True, help="First wait until nothing is pending.")
@url_option
@json_option
def deliveries(wait: bool, url: str, as_json: bool) -> None:
    """Show the delivery log: callbacks, MNS deliveries and trigger invocations, with attempts."""
    if wait:
        _call(url, "POST", "deliveries/wait", {"timeout": 60}, timeout=70)
    log = _call(url, "GET", "deliveries")
    if as_json:
        _echo_json(log)
        return
    if not log:
        click.echo("no deliveries")
    for record in log:
        statuses = ",".join(str(a.get("Status") or a.get("Error") or "-") for a in record.get("Attempts", []))
        what = record.get("EventType") or record.get("Topic") or ""
        if record.get("Queue"):
            what = f"{record['Queue']} x{record.get('Count')} #{record.get('Attempt')}"
        click.echo(f"{record['DeliveryId']}  {record['Kind']:<13} {record['Result']:<9} {what:<22} "
                   f"{record['Target']}  [{statuses}]")


@emulator.command("requests")
@url_option
@json_option
def requests_(url: str, as_json: bool) -> None:
    """Show the request log (no secrets)."""
    log = _call(url, "GET", "requests")
    if as_json:
        _echo_json(log)
        return
    for entry in log:
        click.echo(f"{entry['time']}  {entry['service']} {entry['action'] or '-'} {entry['region'] or '-'} "
                   f"{entry['status'] if entry['status'] is not None else '-'}"
                   + (f" {entry['error_code']}" if entry.get("error_code") else "")
                   + (f" fault={entry['fault']}" if entry.get("fault") else ""))


@emulator.command("messages")
@click.option("--topic", default=None, help="A topic's messages.")
@click.option("--queue", default=None, help="A queue's messages.")
@url_option
def messages(topic: Optional[str], queue: Optional[str], url: str) -> None:
    """Show the messages of a topic or a queue (JSON); without either, list both kinds."""
    if topic and queue:
        raise click.UsageError("one of --topic or --queue")
    if topic or queue:
        _echo_json(_call(url, "GET", f"{'topics' if topic else 'queues'}/{topic or queue}/messages"))
        return
    _echo_json({"topics": _call(url, "GET", "topics"), "queues": _call(url, "GET", "queues")})


@emulator.group("state")
def state() -> None:
    """Save the emulator's state to a file, or load it from one."""


@state.command("save")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@url_option
def state_save(file: Path, url: str) -> None:
    """Write the running emulator's state to FILE (JSON)."""
    data = _call(url, "GET", "state")
    _write_json(file, data)
    click.echo(f"saved {len(data.get('jobs', {}))} jobs, {len(data.get('media', {}))} media to {file}")


@state.command("load")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@url_option
def state_load(file: Path, url: str) -> None:
    """Replace the running emulator's state with FILE's."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{file}: not JSON ({exc})") from None
    result = _call(url, "PUT", "state", data)
    click.echo(f"loaded {result['jobs']} jobs, {result['media']} media from {file}")


@emulator.command("settings")
@click.option("--strict-media/--lenient-media", default=None, help="Refuse jobs on unknown media, or not.")
@click.option("--trigger-retry-interval", default=None, help="N or LOW-HIGH seconds.")
@click.option("--callback-retry-interval", type=click.FloatRange(0), default=None, help="Seconds.")
@url_option
def settings(strict_media: Optional[bool], trigger_retry_interval: Optional[str],
             callback_retry_interval: Optional[float], url: str) -> None:
    """Show (and with options, change) the emulator's settings."""
    changes: dict[str, Any] = {}
    if strict_media is not None:
        changes["strict_media"] = strict_media
    if trigger_retry_interval is not None:
        try:
            interval = retry_interval(trigger_retry_interval)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        changes["trigger_retry_interval"] = list(interval) if isinstance(interval, tuple) else interval
    if callback_retry_interval is not None:
        changes["http_retry_interval"] = callback_retry_interval
    _echo_json(_call(url, "PUT", "settings", changes) if changes else _call(url, "GET", "settings"))


@emulator.command("advance")
@click.argument("seconds", type=click.FloatRange(0))
@url_option
def advance(seconds: float, url: str) -> None:
    """Move the emulator clock forward; jobs then due finish (and their events go out)."""
    result = _call(url, "POST", "advance", {"seconds": seconds})
    click.echo(f"advanced {seconds:g} s; {result['finished']} job(s) finished")


@emulator.command("reset")
@url_option
def reset(url: str) -> None:
    """Forget jobs, media, messages and logs; keep the configuration."""
    _call(url, "POST", "reset")
    click.echo("reset")
