"""``vodai replay``: saved events, dead letters and earlier failures through the pipeline again.

The logic is :mod:`vodai.replay`; this module is only the command: options, progress bar, output.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from ..exceptions import VodaiError
from ..logs import outcome_lines
from .options import profile_option


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--cloud", is_flag=True, help="Call the configured VOD and MNS endpoints with your credentials "
              "(default: the built-in emulator, in process).")
@profile_option
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests in flight at once to each endpoint with --cloud (twice as many workers prepare the "
                   "next items meanwhile); on the emulator, items run at the same time.")
@click.option("--rate", type=click.FloatRange(min=0), default=0, show_default=True, metavar="R",
              help="At most R events per second, shared by all workers (0: unlimited).")
@click.option("--dry-run", is_flag=True, help="Only show what each event would do: no call, no store access, no dead letter.")
@click.option("--resubmit-uncertain", is_flag=True,
              help="Submit again the jobs recorded UNCERTAIN (a submit whose answer was lost) by deleting their "
                   "records first. VOD may have created the first job: this can pay twice. Use it only after "
                   "checking in VOD that no job exists for those media. Without it they are skipped as duplicates.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary instead of tables.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is off anyway when stderr is not a terminal).")
@click.option("--env-vars", type=click.Path(exists=True, dir_okay=False),
              help="JSON file of environment variables (SAM format or flat), as for invoke.")
@click.option("--to-queue", metavar="NAME", help="Send the events to MNS queue NAME (the one that triggers on_upload) "
              "in batches of 16 instead of running them here; --rate bounds the messages per second.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --to-queue: record what was sent in FILE, so a run stopped in the middle resumes "
                   "where it stopped without sending again what it sent.")
@click.option("--emulator-url", envvar="VODAI_EMULATOR_URL", default=None, metavar="URL",
              help="Without --cloud, the running `vodai emulator` whose queues mns-queue:// and --to-queue use "
                   "(or VODAI_EMULATOR_URL; default http://127.0.0.1:9100).")
@click.option("--retry-delay", type=click.IntRange(1, 43200), default=None, metavar="SECONDS",
              help="With mns-queue://: a message whose event failed is visible again after SECONDS "
                   "(ChangeMessageVisibility) instead of the queue's visibility timeout.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log each outcome's JSON line on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr.")
def replay(paths, cloud, profile, concurrency, rate, dry_run, resubmit_uncertain, as_json, no_progress, env_vars,
           to_queue, checkpoint, emulator_url, retry_delay, quiet, verbose):
    """Run events again through the on_upload pipeline, as invoke does, idempotently.

    PATH is an event file (.json, any delivery shape), a JSONL file (.jsonl: one event or dead
    letter per line, e.g. .vodai/dead-letters/*.jsonl or an earlier .vodai/replay/failed-*.jsonl),
    a directory (every *.json and *.jsonl below it, except expected.json), or - for JSONL on stdin,
    or mns-queue://NAME to drain an MNS queue (a dead-letter queue): each message that reached a
    final outcome is deleted, one that failed stays in the queue and is visible again later
    (--retry-delay). Without --cloud the queue is the running emulator's (--emulator-url).

    With --to-queue NAME the events are not run here but sent to queue NAME, the one whose
    trigger runs on_upload in FC (--rate, --checkpoint FILE to resume an interrupted run); from
    mns-queue:// sources, each message is deleted from its queue once NAME has its event.

    Job records persist in VODAI_IDEMPOTENCY_STORE (default: SQLite under .vodai/), so replaying
    the same events twice submits nothing new: done jobs are skipped as duplicates.

    Job records made on the emulator are kept apart from the cloud's (namespace "<prefix>:emulator").

    A dead letter that reached a final outcome is moved to replayed/ beside its file (dead-lettered
    again, only its new letter stays); a line that cannot be read is dead-lettered once, and later
    replays skip it. Prints a summary on stdout (--json: as JSON). Exit status 0 when every event
    reached a final outcome (submitted, skipped, dead-lettered); otherwise 1, and the failed items
    are written to .vodai/replay/failed-<UTC time>.jsonl, which `vodai replay` reads back.
    """
    from rich.console import Console

    from .. import replay as rp

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if env_vars:
        from .invoke import FUNCTION, load_env_vars

        os.environ.update(load_env_vars(env_vars, FUNCTION))
    if checkpoint and not to_queue:
        raise click.BadParameter("--checkpoint goes with --to-queue", param_hint="--checkpoint")
    from ..replay.queues import queue_name

    queues = [queue_name(p) for p in paths if p.startswith("mns-queue:")]
    if queues:
        if len(queues) != len(paths) or None in queues:
            raise click.BadParameter("mns-queue://NAME cannot be mixed with files, and needs a NAME", param_hint="PATH")
        if dry_run:
            raise click.BadParameter("mns-queue:// does not take --dry-run yet", param_hint="PATH")
        if to_queue in queues:
            raise click.BadParameter(f"{to_queue} is the queue being drained: its messages would come back into it "
                                     f"for ever; name another queue", param_hint="--to-queue")
    try:
        items = [] if queues else rp.read_sources(paths)  # "-" reads sys.stdin.buffer
    except rp.SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from None
    if to_queue and queues:
        _move(queues, to_queue, cloud=cloud, profile=profile, emulator_url=emulator_url, rate=rate,
              checkpoint=checkpoint, as_json=as_json, no_progress=no_progress)
    if to_queue:
        _fan_out(items, to_queue, cloud=cloud, profile=profile, emulator_url=emulator_url, rate=rate,
                 checkpoint=checkpoint, as_json=as_json, no_progress=no_progress)
    try:
        target = rp.open_target(cloud=cloud, profile=profile)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    where = "the cloud" if cloud else "the built-in emulator"
    err = Console(stderr=True)
    show_progress = not no_progress and err.is_terminal
    runner = rp.Runner(target, concurrency=concurrency, rate=rate, dry_run=dry_run, resubmit_uncertain=resubmit_uncertain)
    try:
        with outcome_lines(quiet):
            if queues:
                results = _drain(runner, queues, cloud=cloud, profile=profile, emulator_url=emulator_url,
                                 retry_delay=retry_delay, where=where)
            else:
                click.echo(f"vodai: replaying {len(items)} items on {where}{' (dry run)' if dry_run else ''}", err=True)
                results = _run(runner, items, err, show_progress)
    except VodaiError as exc:  # the store or the queue cannot be opened: nothing has run
        raise click.ClickException(str(exc)) from None
    finally:
        getattr(target, "close", lambda: None)()

    summary = rp.Summary(results, prefix=target.settings.namespace, target="cloud" if cloud else "emulator",
                         dry_run=dry_run, interrupted=runner.interrupted)
    if not dry_run and not queues:
        moved = rp.retire_replayed(results)
        if moved:
            click.echo(f"vodai: {moved} dead letters replayed: moved to {rp.REPLAYED_DIR}/ beside their files", err=True)
    if not dry_run and summary.retry_results and not queues:
        path = rp.write_failures(summary.retry_results)
        if path is not None:
            summary.failed_file = str(path)
            click.echo(f"vodai: {len(summary.retry_results)} items did not finish; written to {path} "
                       f"(replay them with: vodai replay {path})", err=True)
    if as_json:
        click.echo(summary.to_json())
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)  # piped into a file or CI log: do not squeeze to 80 columns
        if dry_run:
            rp.render_plan(summary, out)
        rp.render_summary(summary, out)
    sys.exit(summary.exit_status)


def _run(runner, items, console, show_progress):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        task = progress.add_task("replay", total=len(items))
        return runner.run(items, on_result=lambda _result: progress.advance(task))


def _fan_out(items, queue, *, cloud, profile, emulator_url, rate, checkpoint, as_json, no_progress):
    """``--to-queue``: the readable items go to ``queue`` (:mod:`vodai.cli.to_queue`)."""
    from ..replay.queues import open_queue_client
    from .to_queue import send_to_queue

    try:
        client = open_queue_client(cloud=cloud, profile=profile, emulator_url=emulator_url)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    unreadable = [(i.origin, i.error or "unreadable") for i in items if i.raw is None]
    pairs = [(i.dead_letter_id or i.origin, i.raw.decode("utf-8", "replace")) for i in items if i.raw is not None]
    send_to_queue(pairs, queue, client=client, what=f"{len(pairs)} events", where="the cloud" if cloud else client.endpoint,
                  params={"command": "replay", "queue": queue, "endpoint": client.endpoint}, checkpoint=checkpoint,
                  rate=rate, as_json=as_json, no_progress=no_progress, total=lambda: len(pairs), unreadable=unreadable)


def _move(queues, to_queue, *, cloud, profile, emulator_url, rate, checkpoint, as_json, no_progress):
    """mns-queue:// with --to-queue: the messages go to ``to_queue``, deleted from their queue once
    there (:mod:`vodai.replay.move`)."""
    from ..replay.move import QueueMove
    from ..replay.queues import open_queue_client
    from .to_queue import send_to_queue

    try:
        client = open_queue_client(cloud=cloud, profile=profile, emulator_url=emulator_url)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    move = QueueMove(client, queues)
    params = {"command": "replay", "source": [f"mns-queue://{q}" for q in queues], "queue": to_queue,
              "endpoint": client.endpoint}
    send_to_queue(move.items(), to_queue, client=client, what=f"the messages of queue {', '.join(queues)}",
                  where="the cloud" if cloud else client.endpoint, params=params, checkpoint=checkpoint, rate=rate,
                  as_json=as_json, no_progress=no_progress, unreadable=move.unreadable, settled=move.settled,
                  epilogue=move.summary)


def _drain(runner, queues, *, cloud, profile, emulator_url, retry_delay, where):
    """mns-queue:// sources: every queue drained in turn; their results, for the summary."""
    from ..replay.drain import drain_queue, keep_dead_letters_in
    from ..replay.queues import open_queue_client

    client = open_queue_client(cloud=cloud, profile=profile, emulator_url=emulator_url)
    results = []
    for queue in queues:
        click.echo(f"vodai: draining queue {queue} ({client.endpoint}) on {where}", err=True)
        runner.target.dead_letters = None
        if keep_dead_letters_in(runner.target, queue):
            click.echo(f"vodai: queue {queue} is VODAI_DEAD_LETTERS: an event dead-lettered again stays in it as it "
                       f"is (visible again later), not sent back to it", err=True)
        report = drain_queue(client, queue, runner, retry_delay=retry_delay)
        results.extend(report.results)
        click.echo(f"vodai: queue {queue}: {report.deleted} messages settled and deleted, {report.kept} failed and "
                   f"left in the queue (visible again later){_not_deleted(report)}", err=True)
        if runner.interrupted:
            break
    return results


def _not_deleted(report) -> str:
    return f", {len(report.not_deleted)} settled but not deleted in time" if report.not_deleted else ""
