"""Opening the sink named by ``VODAI_DEAD_LETTERS``: a directory path (or ``file://``), ``mns-queue://NAME``
or ``mns-topic://NAME``."""

from __future__ import annotations

from typing import Optional

from ..exceptions import SinkUrlError
from .sink import DeadLetterSink


def default_directory() -> str:
    from ..paths import state_dir

    return str(state_dir() / "dead-letters")


def open_sink(url: Optional[str], *, publisher=None) -> DeadLetterSink:
    url = url or default_directory()
    if url.startswith(("mns-queue://", "mns-topic://")):
        kind, name = url.split("://", 1)
        if not name or "/" in name:
            raise SinkUrlError(f"{url!r}: expected mns-queue://NAME or mns-topic://NAME")
        if publisher is None:
            raise SinkUrlError("an MNS dead-letter sink needs MNS credentials and endpoint")
        from .backends.mns import MnsSink

        return MnsSink(publisher, kind.split("-")[1], name)
    if "://" in url and not url.startswith("file://"):
        raise SinkUrlError(f"unsupported {url.split('://')[0]!r}: use a directory, file://DIR, mns-queue://NAME or mns-topic://NAME")
    from .backends.jsonl import JsonlDirectorySink

    return JsonlDirectorySink(url[len("file://"):] if url.startswith("file://") else url)
