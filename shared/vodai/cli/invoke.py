"""``vodai invoke``: run the handler's pipeline on saved events, like ``sam local invoke``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Iterable, List, Tuple

import click

from ..exceptions import VodaiError


def _event_files(paths: Iterable[str]) -> List[Tuple[str, bytes]]:
    found: List[Tuple[str, bytes]] = []
    for p in paths:
        if p == "-":
            found.append(("-", sys.stdin.buffer.read()))
            continue
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*.json")):
                if child.name != "expected.json":
                    found.append((str(child), child.read_bytes()))
        elif path.is_file():
            found.append((str(path), path.read_bytes()))
        else:
            raise click.BadParameter(f"{p}: no such file or directory", param_hint="EVENT")
    return found


@click.command()
@click.argument("events", nargs=-1, metavar="EVENT...")
@click.option("-e", "--event", "event_opts", multiple=True, help="An event file, or - for stdin (repeatable).")
@click.option("--cloud", is_flag=True, help="Call the real VOD and MNS endpoints with your credentials.")
@click.option("--table", is_flag=True, help="Print one line per event instead of the outcome JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr.")
def invoke(events, event_opts, cloud, table, verbose):
    """Run EVENT files (or directories of them, or - for stdin) through the handler's pipeline.

    By default against the built-in emulator of VOD and MNS (no account needed); with --cloud
    against the configured endpoints and credentials. Outcome JSON on stdout, logs on stderr.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from ..local import cloud_target, emulator_target

    paths = list(event_opts) + list(events)
    if not paths:
        raise click.UsageError("give an event file, a directory, or - for stdin")
    files = _event_files(paths)
    try:
        target = cloud_target() if cloud else emulator_target()
    except VodaiError as exc:
        raise click.ClickException(str(exc)) from None
    if not cloud:
        click.echo(f"vodai: target: built-in emulator (topic {target.settings.callback_topic})", err=True)
    results = [(name, target.invoke(raw)) for name, raw in files]
    if table:
        _print_table(results)
    else:
        for name, result in results:
            doc = result.to_dict()
            if len(results) > 1:
                doc = {"Event": name, **doc}
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    if any(result.failed for _, result in results):
        sys.exit(1)


def _print_table(results) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="vodai: events through the handler (built-in emulator)", title_justify="left")
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
