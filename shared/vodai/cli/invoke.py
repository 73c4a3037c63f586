"""``vodai invoke``: run the handler on saved events, as ``sam local invoke`` / ``fun local invoke`` do.

Result JSON on stdout; logs and one ``RequestId: … Duration: … Max Memory Used: …`` line per
invocation on stderr; exit status 1 when the function fails (a retryable error: FC would redeliver).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Tuple, Union

import click

from ..config import unknown_variables
from ..logs import outcome_lines
from . import warn
from .options import profile_option

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
        _warn_unknown_sections(doc)
        merged = dict(doc.get("Parameters") or {})
        merged.update(doc.get(function) or {})
    else:
        merged = doc
    for message in unknown_variables(merged):
        warn(message)
    return {str(k): "" if v is None else str(v) for k, v in merged.items()}


def _warn_unknown_sections(doc: dict) -> None:
    import difflib

    from ..runtime.registry import REGISTRY

    known = ["Parameters", *REGISTRY]
    for section in doc:
        if section not in known:
            close = difflib.get_close_matches(section, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"sections are {', '.join(known)}"
            warn(f"unknown section {section} in --env-vars is ignored: {hint}")


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
@profile_option
@click.option("--via-http", is_flag=True, help="Send each event through the FC runtime shim over HTTP, as FC does.")
@click.option("--table", is_flag=True, help="One short line per event and a totals line instead of the result JSON.")
@click.option("--log-json", is_flag=True, help="With --table: still log each outcome's JSON line and REPORT line on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs on stderr.")
def invoke(events, event_opts, env_vars, cloud, profile, via_http, table, log_json, verbose):
    """Run EVENT files (or directories of them, or - for stdin) through the on_upload handler.

    By default against the built-in emulator of VOD and MNS (no account needed); with --cloud
    against the configured endpoints, with credentials from the standard Alibaba Cloud chain
    (or --profile).
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING if table else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if env_vars:
        os.environ.update(load_env_vars(env_vars, FUNCTION))
    if profile and not cloud:
        raise click.UsageError("--profile goes with --cloud (the emulator makes its own credentials)")
    paths = list(event_opts) + list(events)
    if not paths:
        raise click.UsageError("give an event file, a directory, or - for stdin (-e FILE)")
    files = _event_files(paths)
    quiet = table and not log_json  # the table is the output: no log lines around it
    # Errors (a bad setting, no credentials, a store that is down) are told in one or two lines
    # by the group, or with their traceback under --debug.
    target: Union["HttpTarget", "LocalTarget"]
    if via_http:
        from .via_http import HttpTarget

        source = None
        if cloud:
            from ..credential_chain import credentials_source

            source = credentials_source(profile)
        target = HttpTarget.start(cloud=cloud, credentials=source)
    else:
        from ..local import cloud_target, emulator_target

        target = cloud_target(profile=profile) if cloud else emulator_target()
    click.echo(f"vodai: target: {'the cloud' if cloud else 'built-in emulator'}"
               f"{' through the runtime shim' if via_http else ''}", err=True)
    results = []
    try:
        with outcome_lines(quiet):
            for name, raw in files:
                context = target.new_context()
                started = time.perf_counter()
                result = target.invoke(raw, context)
                if not quiet:
                    click.echo(report_line(context.request_id, started, context.function.memory), err=True)
                results.append((name, result))
    finally:
        getattr(target, "close", lambda: None)()
    if table:
        _print_table(results, _common_root(paths))
    else:
        for name, result in results:
            doc = result.to_dict()
            click.echo(json.dumps({"Event": name, **doc} if len(results) > 1 else doc, ensure_ascii=False, indent=2))
    failed = [o for _, result in results for o in result.outcomes if o.status == "failed"]
    if failed:
        # The outcome lines say it all, but a person reading the terminal gets the gist in one line.
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        click.echo(f"Error: {len(failed)} event(s) failed, retryable: {failed[0].reason}{more}", err=True)
    if any(result.failed for _, result in results):
        sys.exit(1)


def _common_root(paths: List[str]) -> str:
    """The directory every event path is under (shown once, not on every line)."""
    dirs = [p for p in paths if p != "-" and Path(p).is_dir()]
    return dirs[0] if len(dirs) == 1 and len(paths) == 1 else ""


_STYLES = {"submitted": "green", "skipped": "yellow", "failed": "red", "dead-letter": "magenta"}


def _print_table(results, root: str) -> None:
    from .table import lines

    if root:
        results = [(os.path.relpath(name, root), result) for name, result in results]
    width = min(shutil.get_terminal_size((100, 24)).columns, 100)
    for index, line in enumerate(lines(results, width=width)):
        status = line.split("  ")[1] if 0 < index <= sum(len(r.outcomes) for _, r in results) else ""
        # Colour only the status word; click drops the colour when stdout is not a terminal.
        click.echo(line.replace(f"  {status} ", "  " + click.style(status, fg=_STYLES[status]) + " ", 1)
                   if status in _STYLES else line)
