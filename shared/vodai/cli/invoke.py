"""``vodai invoke``: run the handler on saved events, as ``sam local invoke`` / ``fun local invoke`` do.

Result JSON on stdout; logs and one ``RequestId: … Duration: … Max Memory Used: …`` line per
invocation on stderr; exit status 1 when the function fails (a retryable error: FC would redeliver).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Tuple, Union

import click

from ..exceptions import VodaiError

if TYPE_CHECKING:
    from ..local import LocalTarget
    from .via_http import HttpTarget

FUNCTION = "on_upload"


def _event_files(paths: Iterable[str]) -> List[Tuple[str, bytes]]:
    found: List[Tuple[str, bytes]] = []
    for p in paths:
        if p == "-":
            found.append(("-", sys.stdin.buffer.read()))
            continue
        path = Path(p)
        if path.is_dir():
            found.extend((str(c), c.read_bytes()) for c in sorted(path.rglob("*.json")) if c.name != "expected.json")
        elif path.is_file():
            found.append((str(path), path.read_bytes()))
        else:
            raise click.BadParameter(f"{p}: no such file or directory", param_hint="EVENT")
    return found


def load_env_vars(path: str, function: str) -> dict:
    """Variables from an env-vars file: SAM's ``{"Parameters": {...}, "<function>": {...}}`` or a flat map."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--env-vars") from None
    if not isinstance(doc, dict):
        raise click.BadParameter(f"{path}: expected a JSON object", param_hint="--env-vars")
    if any(isinstance(v, dict) for v in doc.values()):
        merged = dict(doc.get("Parameters") or {})
        merged.update(doc.get(function) or {})
    else:
        merged = doc
    return {str(k): "" if v is None else str(v) for k, v in merged.items()}


def report_line(request_id: str, started: float, memory_size: int) -> str:
    duration = (time.perf_counter() - started) * 1000
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return (f"RequestId: {request_id}  Duration: {duration:.2f} ms  Billed Duration: {int(duration) + 1} ms  "
            f"Memory Size: {memory_size} MB  Max Memory Used: {max_rss_mb:.0f} MB")


@click.command()
@click.argument("events", nargs=-1, metavar="[EVENT]...")
@click.option("-e", "--event", "event_opts", multiple=True, metavar="FILE",
              help="An event file, a directory of them, or - for stdin (repeatable).")
@click.option("--env-vars", type=click.Path(exists=True, dir_okay=False), help="JSON file of environment variables (SAM format or flat).")
@click.option("--cloud", is_flag=True, help="Call the real VOD and MNS endpoints with your credentials.")
@click.option("--via-http", is_flag=True, help="Send each event through the FC runtime shim over HTTP, as FC does.")
@click.option("--table", is_flag=True, help="Print one line per event instead of the result JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr.")
def invoke(events, event_opts, env_vars, cloud, via_http, table, verbose):
    """Run EVENT files (or directories of them, or - for stdin) through the on_upload handler.

    By default against the built-in emulator of VOD and MNS (no account needed); with --cloud
    against the configured endpoints and credentials.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING if table else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if env_vars:
        os.environ.update(load_env_vars(env_vars, FUNCTION))
    paths = list(event_opts) + list(events)
    if not paths:
        raise click.UsageError("give an event file, a directory, or - for stdin (-e FILE)")
    files = _event_files(paths)
    target: Union[HttpTarget, LocalTarget]
    try:
        if via_http:
            from .via_http import HttpTarget

            target = HttpTarget.start(cloud=cloud)
        else:
            from ..local import cloud_target, emulator_target

            target = cloud_target() if cloud else emulator_target()
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"vodai: target: {'the cloud' if cloud else 'built-in emulator'}"
               f"{' through the runtime shim' if via_http else ''}", err=True)
    results = []
    try:
        for name, raw in files:
            context = target.new_context()
            started = time.perf_counter()
            result = target.invoke(raw, context)
            click.echo(report_line(context.request_id, started, context.function.memory), err=True)
            results.append((name, result))
    finally:
        getattr(target, "close", lambda: None)()
    if table:
        _print_table(results)
    else:
        for name, result in results:
            doc = result.to_dict()
            click.echo(json.dumps({"Event": name, **doc} if len(results) > 1 else doc, ensure_ascii=False, indent=2))
    if any(result.failed for _, result in results):
        sys.exit(1)


def _print_table(results) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="vodai: events through the handler", title_justify="left")
    for col in ("event", "#", "status", "media", "type", "region", "action / reason", "JobId", "MessageId"):
        table.add_column(col, overflow="fold", no_wrap=col in ("JobId", "MessageId", "media"))
    for name, result in results:
        for o in result.outcomes:
            what = o.action if o.status == "submitted" else o.reason
            cells = (name, str(o.index), o.status, o.media_id, o.media_type, o.region, what, o.job_id, o.message_id)
            table.add_row(*(escape(c) if c else "-" for c in cells))
    console = Console()
    if not console.is_terminal:
        console = Console(width=240)  # piped into a file or CI log: do not squeeze to 80 columns
    console.print(table)
