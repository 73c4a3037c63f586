"""``--to-queue``, shared by ``vodai replay`` and ``vodai backfill``: the events go to an MNS queue
(the one that triggers on_upload) instead of running here, with a progress bar, a summary and the
exit status. The logic is :mod:`vodai.fanout`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Sequence, Tuple

import click

from ..exceptions import VodaiError


def send_to_queue(pairs: Iterable[Tuple[str, str]], queue: str, *, client: Any, what: str, where: str,
                  params: Dict[str, Any], checkpoint: Optional[str], rate: float, as_json: bool, no_progress: bool,
                  total: Optional[Callable[[], Optional[int]]] = None, unreadable: Sequence[Tuple[str, str]] = (),
                  settled: Optional[Callable[[List[str]], None]] = None,
                  epilogue: Optional[Callable[[], str]] = None) -> NoReturn:
    """Send ``pairs`` (``(item id, message body)``, read as they are sent) to ``queue``; exits 0
    when every one was sent (or had been, by the run the checkpoint records), else 1.

    Parameters
    ----------
    pairs
        The items; an iterator is read lazily (a listing is sent while it is listed).
    queue
        The queue's name.
    client
        The queue client (:func:`vodai.replay.queues.open_queue_client`).
    what, where
        For the first line: what is sent (``"12 events"``) and where (an endpoint, ``"the cloud"``).
    params
        What the run is, recorded in (and checked against) the checkpoint.
    checkpoint
        ``--checkpoint FILE``, or None. With one, batches are sent by a detached process, so a
        kill of the command never leaves a batch sent but unrecorded (:mod:`vodai.fanout.detached`).
    rate
        At most this many messages per second (0: unlimited).
    as_json, no_progress
        The summary as JSON; no progress bar.
    total
        The number of items expected so far (the progress bar's total), or None when unknown.
    unreadable
        ``(origin, reason)`` of items that could not be read: counted as failed.
    settled
        Called with the ids that are in the queue, batch by batch (see :func:`vodai.fanout.fan_out`).
    epilogue
        A last line for stderr, made once the fan-out ended.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..fanout import fan_out, open_outbox

    def waiting() -> None:
        click.echo(f"vodai: waiting for --checkpoint {checkpoint}: another run (or its last batch) holds it", err=True)

    try:  # before the progress bar starts its thread: this may fork
        outbox = open_outbox(client, queue, checkpoint=Path(checkpoint) if checkpoint else None, params=params,
                             detach=True, on_wait=waiting)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    resuming = f" (resuming: {len(outbox.sent)} already sent)" if outbox.sent else ""
    click.echo(f"vodai: sending {what} to queue {queue} on {where}{resuming}", err=True)
    err = Console(stderr=True)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("sent {task.fields[sent]}  failed {task.fields[failed]}  {task.fields[rate]:.0f}/s"),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, disable=no_progress or not err.is_terminal) as progress:
            task = progress.add_task(f"to {queue}", total=total() if total else None, sent=0, failed=0, rate=0.0)

            def show(report) -> None:
                progress.update(task, completed=report.sent + report.failed + report.skipped, sent=report.sent,
                                failed=report.failed, rate=report.rate, total=total() if total else None)

            report = fan_out(pairs, outbox=outbox, rate=rate or None, progress=show, settled=settled)
    except VodaiError as exc:  # the listing failed, or the sending process ended
        raise click.ClickException(str(exc)) from None
    if epilogue is not None:
        click.echo(epilogue(), err=True)
    report.failed += len(unreadable)
    report.failures.extend(unreadable)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(f"sent {report.sent}, failed {report.failed}, already sent {report.skipped}"
                   f" (resent after a stop: {report.resent}), {report.rate:.0f} messages/s")
        for item_id, reason in report.failures[:20]:
            click.echo(f"  failed {item_id}: {reason}")
    if report.interrupted:
        again = f"run it again with --checkpoint {checkpoint} to send the rest" if checkpoint else \
            "nothing recorded what was sent (no --checkpoint)"
        click.echo(f"vodai: interrupted after the batch in flight: {again}", err=True)
    sys.exit(0 if report.failed == 0 and not report.interrupted else 1)
