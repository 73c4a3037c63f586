"""``vodai backfill``: the media uploaded before vodai was deployed, through the pipeline.

The logic is :mod:`vodai.backfill` (listing, events) and :mod:`vodai.replay` (running them);
this module is only the command.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import click

from ..exceptions import VodaiError
from ..logs import outcome_lines
from .options import profile_option


@click.command()
@click.option("--region", required=True, help="The VOD region whose media are listed, e.g. cn-shanghai.")
@click.option("--since", required=True, metavar="TIME", help="Media created at or after TIME (ISO 8601, UTC unless it says).")
@click.option("--until", default=None, metavar="TIME", help="Media created before TIME (default: now).")
@click.option("--media", "media_kinds", default="video,image", show_default=True,
              help="Which media: video, image, or both, comma-separated.")
@click.option("--cloud", is_flag=True, help="List and submit on the configured VOD and MNS endpoints with your "
              "credentials (default: the built-in emulator, in process).")
@profile_option
@click.option("--emulator-state", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Load the built-in emulator's media (and jobs) from FILE (`vodai emulator state save`) first.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests in flight at once, as for replay.")
@click.option("--rate", type=click.FloatRange(min=0), default=0, show_default=True, metavar="R",
              help="At most R events per second (0: unlimited).")
@click.option("--dry-run", is_flag=True, help="List and decide only: no submit, no store access.")
@click.option("--to-queue", metavar="NAME", help="Send the events to MNS queue NAME (the one that triggers on_upload) in "
              "batches of 16 while the media are listed, instead of running them here; --rate bounds the messages "
              "per second. Without --cloud, the media are listed and sent on the running emulator (--emulator-url).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --to-queue: record what was sent in FILE, so that the same backfill run again after a stop "
                   "(even a kill) sends the rest and nothing twice. Without --until, a resumed run keeps FILE's.")
@click.option("--emulator-url", envvar="VODAI_EMULATOR_URL", default=None, metavar="URL",
              help="With --to-queue and without --cloud, the running `vodai emulator` (or VODAI_EMULATOR_URL; "
                   "default http://127.0.0.1:9100).")
@click.option("--no-progress", is_flag=True, help="No progress bar with --to-queue (it is off anyway when stderr is "
              "not a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary instead of tables.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log each outcome's JSON line on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr.")
def backfill(region, since, until, media_kinds, cloud, profile, emulator_state, concurrency, rate, dry_run, to_queue,
             checkpoint, emulator_url, no_progress, as_json, quiet, verbose):
    """List the media of REGION created in [--since, --until) with VOD's SearchMedia and run, for
    each, the upload event VOD would have sent (FileUploadComplete, ImageUploadComplete) through
    the on_upload pipeline, as `vodai replay` does: the same rules (a region or media type no rule
    serves is skipped with its reason), the same job records (a second backfill is all
    duplicates). Each outcome has Shape "backfill" and "Backfill": true.

    With --to-queue NAME the events are not run here but sent, as they are listed, to queue NAME,
    whose trigger runs on_upload in FC (--rate; --checkpoint FILE to resume a stopped run); their
    outcomes there have the queue trigger's Shape ("cloudevent") and "Backfill": true.

    Exit status 0 when every media reached a final outcome (with --to-queue: was sent), else 1.
    """
    from rich.console import Console

    from .. import backfill as bf
    from .. import replay as rp
    from ..pipeline import build
    from ..timestamps import parse_utc

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if checkpoint and not to_queue:
        raise click.BadParameter("--checkpoint goes with --to-queue", param_hint="--checkpoint")
    if to_queue and dry_run:
        raise click.BadParameter("--dry-run decides without sending: leave out --to-queue or --dry-run", param_hint="--dry-run")
    if to_queue and emulator_state:
        raise click.BadParameter("with --to-queue the media are listed on the running emulator: load FILE there "
                                 "(vodai emulator state load FILE)", param_hint="--emulator-state")
    if until is None and checkpoint:
        until = _recorded_until(checkpoint)
    try:
        window = bf.Window(_time(parse_utc, since, "--since"), time.time() if until is None else _time(parse_utc, until, "--until"))
        kinds = bf.parse_kinds(media_kinds)
    except VodaiError as exc:
        raise click.BadParameter(str(exc)) from None
    if emulator_state and cloud:
        raise click.BadParameter("--emulator-state is for the built-in emulator, not --cloud", param_hint="--emulator-state")
    if to_queue:
        _to_queue(region, window, kinds, to_queue, cloud=cloud, profile=profile, emulator_url=emulator_url, rate=rate,
                  checkpoint=checkpoint, as_json=as_json, no_progress=no_progress)
    try:
        target = rp.open_target(cloud=cloud, profile=profile)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if emulator_state:
            with open(emulator_state, encoding="utf-8") as handle:
                target.backend.load_state(json.load(handle))
            topic = target.settings.callback_topic
            if topic and not target.backend.has_topic(topic):  # a saved state may hold no topic
                target.backend.create_topic(topic)
        context = target.new_context()
        deps = build(target.settings, context=context, session=target.session)
        search = bf.with_retries(deps.vod.search_media, deps)
        try:
            items = bf.items_of(bf.backfill_items(search, region, window, kinds))
        except VodaiError as exc:
            raise click.ClickException(f"listing the media of {region} failed: {exc}") from None
        where = "the cloud" if cloud else "the built-in emulator"
        click.echo(f"vodai: backfilling {len(items)} media of {region} on {where}{' (dry run)' if dry_run else ''}",
                   err=True)
        runner = rp.Runner(target, concurrency=concurrency, rate=rate, dry_run=dry_run)
        with outcome_lines(quiet):
            results = runner.run(items)
    except (VodaiError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        getattr(target, "close", lambda: None)()

    summary = rp.Summary(results, prefix=target.settings.namespace, target="cloud" if cloud else "emulator",
                         dry_run=dry_run, interrupted=runner.interrupted)
    if as_json:
        click.echo(summary.to_json())
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)
        if dry_run:
            rp.render_plan(summary, out)
        rp.render_summary(summary, out)
    sys.exit(summary.exit_status)


def _time(parse, text: str, option: str) -> float:
    try:
        return parse(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: an ISO 8601 time, e.g. 2024-05-01T00:00:00Z", param_hint=option) from None


def _recorded_until(checkpoint: str) -> Optional[str]:
    """A resumed backfill's --until: the one its checkpoint records (the first run's "now")."""
    from ..fanout import read_params

    recorded = read_params(Path(checkpoint))
    until = recorded.get("until") if recorded and recorded.get("command") == "backfill" else None
    return until if isinstance(until, str) else None


def _to_queue(region, window, kinds, queue, *, cloud, profile, emulator_url, rate, checkpoint, as_json, no_progress):
    """--to-queue: the listing streams into the shared fan-out (:mod:`vodai.cli.to_queue`)."""
    from .. import backfill as bf
    from ..config import Settings
    from ..exceptions import BackfillError
    from ..replay.queues import open_queue_client
    from ..timestamps import utc_text
    from .to_queue import send_to_queue

    try:
        client = open_queue_client(cloud=cloud, profile=profile, emulator_url=emulator_url)
        settings = Settings.from_env(os.environ)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    # Without --cloud, VOD is the running emulator too: the same URL serves both.
    search = bf.vod_search(settings, client.credentials, endpoint=None if cloud else client.endpoint)
    totals: Dict[str, int] = {}

    def pairs():
        try:
            for key, body in bf.backfill_items(search, region, window, kinds, on_total=totals.__setitem__):
                yield key, body.decode("utf-8")
        except VodaiError as exc:
            raise BackfillError(f"listing the media of {region} failed: {exc}") from None

    since_text, until_text = utc_text(window.since), utc_text(window.until)
    params = {"command": "backfill", "region": region, "since": since_text, "until": until_text, "media": list(kinds),
              "queue": queue, "endpoint": client.endpoint}
    send_to_queue(pairs(), queue, client=client, what=f"the {'/'.join(kinds)} media of {region} created in "
                  f"[{since_text}, {until_text})", where="the cloud" if cloud else client.endpoint, params=params,
                  checkpoint=checkpoint, rate=rate, as_json=as_json, no_progress=no_progress,
                  total=lambda: sum(totals.values()) if totals else None)
