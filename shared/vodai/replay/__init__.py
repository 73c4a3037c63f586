"""Replay: saved events, dead letters and earlier failures through the same pipeline as ``vodai invoke``.

    items = read_sources(["events/", ".vodai/dead-letters/"])
    target = open_target(cloud=False)               # the built-in emulator; the store persists
    results = Runner(target, concurrency=4, rate=10).run(items, on_result=print)
    summary = Summary(results, prefix=target.settings.namespace)
    write_failures(summary.retry_results)           # .vodai/replay/failed-<UTC time>.jsonl
    retire_replayed(results)                        # letters that ended: moved to replayed/ beside them

The logic lives here (no click); ``vodai.cli.replay`` is the command around it.
"""

from .report import COUNT_NAMES, Summary, failure_line, needs_retry, render_plan, render_summary, write_failures
from .runner import WORKERS_PER_CONNECTION, ItemResult, KeyLocks, Runner, TokenBucket, open_target, planned_keys, store_of
from .settle import REPLAYED_DIR, LineLedger, retire_replayed
from .sources import Item, SourceError, read_jsonl, read_sources

__all__ = [
    "COUNT_NAMES", "REPLAYED_DIR", "Item", "ItemResult", "KeyLocks", "LineLedger", "retire_replayed", "Runner", "SourceError", "Summary",
    "TokenBucket", "failure_line", "needs_retry", "open_target", "planned_keys", "read_jsonl", "read_sources",
    "render_plan", "render_summary", "store_of", "write_failures", "WORKERS_PER_CONNECTION",
]
