"""``vodai jobs``: the jobs vodai follows to their result (vodai.tracking).

    vodai jobs list [--status pending|done|success|fail|lost|uncertain|all] [--json]
                                                                           the tracked jobs (local store), and
                                                                           the UNCERTAIN submits (never resubmitted)
    vodai jobs poll [--cloud] [--limit N]                                  one poll; the summary as JSON
    vodai jobs watch [--interval S] [--once] [--cloud]                     poll until every job is done

The store is ``VODAI_TRACKING_STORE``, else ``VODAI_IDEMPOTENCY_STORE``, else SQLite under
``.vodai/``, in the namespace ``VODAI_IDEMPOTENCY_PREFIX`` (what on_upload records into).

``poll`` and ``watch`` call the configured endpoints with credentials from the standard Alibaba
Cloud chain (or ``--profile``). Without ``--cloud`` they refuse to reach Alibaba Cloud: ``VODAI_VOD_ENDPOINT`` and ``VODAI_MNS_ENDPOINT``
must then be set, e.g. to a running ``vodai emulator``. (Unlike ``vodai invoke``, there is no
in-process emulator here: a fresh one would know none of the jobs.)
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import List, Optional

import click

from ..exceptions import VodaiError
from ..logs import outcome_lines
from .options import profile_option

STATUS_CHOICES = ("pending", "done", "success", "fail", "lost", "uncertain", "all")


@click.group()
def jobs() -> None:
    """Follow submitted jobs to their result: list them, poll VOD, watch them finish."""


def _settings(env_vars: Optional[str]):
    from ..config import Settings

    if env_vars:
        from .invoke import load_env_vars

        os.environ.update(load_env_vars(env_vars, "track_jobs"))
    try:
        return Settings.from_env()
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None


def _store(settings):
    from ..pipeline.dependencies import tracking_for

    try:
        return tracking_for(settings)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None


def _deps(settings, cloud: bool, profile: Optional[str]):
    """What a poll calls: the configured endpoints, credentials from the standard chain."""
    if not cloud and not (settings.vod_endpoint and settings.mns_endpoint):
        raise click.UsageError(
            "this would call Alibaba Cloud: set VODAI_VOD_ENDPOINT and VODAI_MNS_ENDPOINT (e.g. to a running "
            "`vodai emulator`), or pass --cloud to poll the real VOD and MNS endpoints")
    from ..local import cloud_target
    from ..pipeline import build

    try:
        target = cloud_target(profile=profile)
        context = target.new_context()
        return build(target.settings, context=context, routes=target.routes), context
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None


# -- list ------------------------------------------------------------------------------------------

@jobs.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="all", show_default=True,
              help="Which jobs: pending, done (success, fail or lost), one of those, or all.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many (newest first).")
@click.option("--json", "as_json", is_flag=True, help="JSON (one object per job, PascalCase) instead of a table.")
@click.option("--env-vars", type=click.Path(exists=True, dir_okay=False), help="JSON file of environment variables.")
def list_jobs(status, limit, as_json, env_vars):
    """The tracked jobs in the local store, newest first."""
    settings = _settings(env_vars)
    try:
        found = [] if status == "uncertain" else _store(settings).jobs(status=None if status == "all" else status,
                                                                       limit=limit)
        uncertain = _uncertain(settings) if status in ("uncertain", "all") else []
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in found] + [uncertain_dict(r) for r in uncertain],
                              ensure_ascii=False, indent=2))
        return
    console = _console()
    if status != "uncertain":
        console.print(render_jobs(found, title=f"vodai jobs ({status}): {len(found)} in {settings.namespace}"))
    if uncertain or status == "uncertain":
        console.print(render_uncertain(uncertain, title=f"uncertain submits (never resubmitted automatically): "
                                                        f"{len(uncertain)}"))


def _uncertain(settings) -> List:
    """The UNCERTAIN records of the idempotency store (submits that may have made a job whose JobId was lost)."""
    from ..idempotency import UNCERTAIN, default_url
    from ..pipeline.dependencies import shared_store

    return shared_store(settings.idempotency_url() or default_url()).records(settings.namespace,
                                                                             status=UNCERTAIN)


def uncertain_dict(record) -> dict:
    """An UNCERTAIN record as ``vodai jobs list --json`` shows it (PascalCase, like the tracked jobs)."""
    from ..tracking.base import iso

    # From the right: the namespace itself may hold a colon (``vodai:emulator``).
    _namespace, action, media_id, template_id = ([""] * 3 + record.key.rsplit(":", 3))[-4:]
    return {"Status": "uncertain", "Key": record.key, "Action": action, "MediaId": media_id,
            "TemplateId": template_id or None, "SignatureNonce": record.nonce, "SignedAt": record.timestamp,
            "Reason": record.reason, "UpdatedAt": iso(record.updated_at)}


def render_uncertain(records: List, *, title: str):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("action", "media", "signed at", "nonce", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col == "media")
    for record in records:
        row = uncertain_dict(record)
        table.add_row(*(escape(str(row[k] or "")) for k in ("Action", "MediaId", "SignedAt", "SignatureNonce", "Reason")))
    return table


# -- poll ------------------------------------------------------------------------------------------

@jobs.command("poll")
@click.option("--cloud", is_flag=True, help="Allow the real VOD and MNS endpoints (default: only configured local ones).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Check at most this many pending jobs.")
@click.option("--env-vars", type=click.Path(exists=True, dir_okay=False), help="JSON file of environment variables.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log a JSON line per finished job on stderr.")
@profile_option
def poll(cloud, limit, env_vars, quiet, profile):
    """One poll, as the track_jobs function does it; prints the summary JSON.

    Exit status 1 when jobs were due and not one VOD call worked.
    """
    from ..tracking.poller import poll_once

    settings = _settings(env_vars)
    deps, context = _deps(settings, cloud, profile)
    try:
        with outcome_lines(quiet):
            summary = poll_once(deps, limit=limit, context=context)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    if summary.all_calls_failed:
        sys.exit(1)


# -- watch -----------------------------------------------------------------------------------------

@jobs.command("watch")
@click.option("--interval", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="S",
              help="Seconds between polls.")
@click.option("--once", is_flag=True, help="Poll once, show the table, exit.")
@click.option("--cloud", is_flag=True, help="Allow the real VOD and MNS endpoints (default: only configured local ones).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Check at most this many pending jobs per poll.")
@click.option("--env-vars", type=click.Path(exists=True, dir_okay=False), help="JSON file of environment variables.")
@profile_option
def watch(interval, once, cloud, limit, env_vars, profile):
    """Poll every S seconds and show the jobs and their states live, until every job is done
    (or Ctrl-C). The jobs shown are the ones pending when it starts, and any that come later."""
    from rich.live import Live

    from ..tracking.poller import poll_once

    settings = _settings(env_vars)
    deps, context = _deps(settings, cloud, profile)
    store = deps.tracking
    console = _console()
    try:
        watched = [j.job_id for j in store.pending(limit or settings.tracking_poll_limit)]
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    if not watched:
        console.print("vodai jobs watch: no pending jobs")
        return
    polls = 0
    try:
        with outcome_lines(True), Live(console=console, auto_refresh=False) as live:
            while True:
                summary = poll_once(deps, limit=limit, context=context)
                polls += 1
                for job in store.pending(limit or settings.tracking_poll_limit):
                    if job.job_id not in watched:
                        watched.append(job.job_id)
                shown = [j for j in (store.get(i) for i in watched) if j is not None]
                remaining = sum(1 for j in shown if not j.done)
                title = (f"vodai jobs watch: poll {polls}, {len(shown) - remaining} of {len(shown)} done"
                         + (f", {len(summary.errors)} call errors" if summary.errors else ""))
                live.update(render_jobs(shown, title=title), refresh=True)
                if once or remaining == 0:
                    break
                time.sleep(interval)
    except KeyboardInterrupt:
        console.print("vodai jobs watch: interrupted; the jobs stay tracked (`vodai jobs list`)")
        sys.exit(130)
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None


# -- showing jobs ----------------------------------------------------------------------------------

def _console():
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)  # a file or CI log: do not squeeze


def result_text(job) -> str:
    """One line saying what a finished job came to."""
    if job.status == "lost":
        return job.reason or "lost"
    summary = job.summary or {}
    if summary.get("Type") == "AIImage":
        best = summary.get("Best") or []
        top = f", best score {best[0]['Score']:.2f}" if best and isinstance(best[0].get("Score"), (int, float)) else ""
        return f"{summary.get('Images', 0)} images{top}"
    if summary.get("Type") == "AIImageAudit":
        counts = ", ".join(f"{k} {v}" for k, v in (summary.get("Suggestions") or {}).items())
        label = summary.get("Label")
        return f"{summary.get('Suggestion', '?')}{f' ({label})' if label else ''}" + (f"; images: {counts}" if counts else "")
    if job.status == "fail":
        return f"{job.code or ''} {job.message or ''}".strip() or "failed"
    return ""


def render_jobs(found: List, *, title: str):
    from rich.markup import escape
    from rich.table import Table

    from ..tracking.base import iso

    styles = {"success": "green", "fail": "red", "lost": "yellow", "pending": "cyan"}
    table = Table(title=title, title_justify="left")
    for col in ("JobId", "action", "region", "media", "status", "VOD status", "checks", "submitted", "result"):
        table.add_column(col, overflow="fold", no_wrap=col in ("JobId", "media"))
    for job in found:
        action = (job.action or "").replace("Submit", "", 1)
        status = f"[{styles.get(job.status, 'white')}]{escape(job.status)}[/]"
        cells = [job.job_id, action, job.region, job.media_id, None, job.vod_status, str(job.checks),
                 iso(job.submitted_at), result_text(job)]
        row = [escape(c) if c else "-" for c in cells]
        row[4] = status
        table.add_row(*row)
    return table
