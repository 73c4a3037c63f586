"""Backfill: the upload events VOD would have sent for media uploaded before vodai was deployed.

VOD does not resend old events, so ``vodai backfill`` lists the media of one region created in a
time window with VOD's own ``SearchMedia`` and makes, for each, the event VOD sends when an upload
completes (``FileUploadComplete`` for a video, ``ImageUploadComplete`` for an image), wrapped in a
``VodaiBackfill`` envelope that names the region it was listed in (the outcome's ``Shape`` is
``backfill``, its ``RegionSource`` ``backfill``, and ``"Backfill": true``, which an event sent to
the events queue with ``--to-queue`` keeps inside the queue trigger's CloudEvent, whose ``Shape``
and region it then has). The events then go through the one pipeline like
any replayed event: the same decision (a region or media type no rule serves is skipped with its
reason), the same idempotency (a second backfill of the same window is all duplicates).

Why ``SearchMedia`` (see the official SDK's ``SearchMediaRequest``): it lists videos and images
alike (``SearchType``), filters by ``CreationTime`` in ``Match`` and, with ``ScrollToken``, pages
through *all* the results, where ``PageNo``/``PageSize`` (and ``GetVideoList``, which has only
those) stop at the first 5,000. Pages are sorted by one field, ``CreationTime:Asc``, as VOD
requires for a full traversal. A page answered twice (a retry) is the same page: the walk follows
the token of the page before.

:func:`backfill_items` is the pure-ish source: it yields ``(item_id, body)`` pairs, ``item_id``
being ``"<region>:<video|image>:<media id>"``, the shape :func:`vodai.fanout.fan_out` sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

from .clients.vod import MAX_SEARCH_PAGE_SIZE
from .events.envelopes import BACKFILL_MARK
from .exceptions import BackfillError
from .timestamps import utc_text

VIDEO, IMAGE = "video", "image"
MEDIA_KINDS = (VIDEO, IMAGE)
LISTED_BY = "SearchMedia"
# The upload-complete event VOD sends for each kind, and the id field it carries.
_EVENTS = {VIDEO: ("FileUploadComplete", "VideoId", "Video"), IMAGE: ("ImageUploadComplete", "ImageId", "Image")}

# search(region, search_type=..., match=..., sort_by=..., page_size=..., scroll_token=...) -> a SearchMedia answer
Search = Callable[..., dict]


@dataclass(frozen=True)
class Window:
    """The creation times to backfill: ``since`` included, ``until`` excluded (epoch seconds)."""

    since: float
    until: float

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise BackfillError(f"--until ({utc_text(self.until)}) must be after --since ({utc_text(self.since)})")

    def match(self) -> str:
        """SearchMedia's ``Match`` for this window (VOD takes both ends in; :meth:`holds` drops the last)."""
        return f"CreationTime = ('{utc_text(self.since)}','{utc_text(self.until)}')"

    def holds(self, creation_time: Any) -> bool:
        """Whether a CreationTime text (``YYYY-MM-DDThh:mm:ssZ``) falls in the window."""
        text = str(creation_time or "")
        return utc_text(self.since) <= text < utc_text(self.until)


def parse_kinds(text: str) -> Tuple[str, ...]:
    """``video,image`` -> ``("video", "image")``; one- or two-line error naming ``--media``."""
    kinds = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    bad = [k for k in kinds if k not in MEDIA_KINDS]
    if bad or not kinds:
        raise BackfillError(f"--media {text!r}: a comma-separated list of {', '.join(MEDIA_KINDS)}")
    return kinds


def list_media(search: Search, region: str, kind: str, window: Window, *,
               page_size: int = MAX_SEARCH_PAGE_SIZE, on_page: Optional[Callable[[int], None]] = None,
               on_total: Optional[Callable[[str, int], None]] = None) -> Iterator[dict]:
    """Every ``MediaList`` item of ``kind`` created in ``window`` in ``region``, oldest first.

    Parameters
    ----------
    search : callable
        ``VodClient.search_media`` (or one with retries around it).
    region, kind : str
        The VOD region, and ``video`` or ``image``.
    window : Window
        The creation times to list.
    page_size : int
        Results per SearchMedia call (at most 100).
    on_page : callable, optional
        Called with the number of items of each page (progress).
    on_total : callable, optional
        Called with ``kind`` and the ``Total`` of the first page's answer (what VOD counts in
        the window), when it has one.

    Pages are read one at a time, as the items are taken: the listing streams.
    """
    token: Optional[str] = None
    while True:
        answer = search(region, search_type=kind, match=None if token else window.match(),
                        sort_by="CreationTime:Asc", page_size=page_size, scroll_token=token)
        page = answer.get("MediaList") if isinstance(answer, dict) else None
        page = page if isinstance(page, list) else []
        if token is None and on_total is not None and isinstance(answer, dict) and isinstance(answer.get("Total"), int):
            on_total(kind, answer["Total"])
        if on_page is not None:
            on_page(len(page))
        for item in page:
            if isinstance(item, dict) and window.holds(item.get("CreationTime")):
                yield item
        token = answer.get("ScrollToken") if isinstance(answer, dict) else None
        if len(page) < page_size or not token:
            return


def upload_event(kind: str, region: str, item: dict) -> Optional[dict]:
    """The upload-complete event VOD would have sent for one SearchMedia item, or None when the
    item names no media id.

    ``EventTime`` is the media's CreationTime; a video's SearchMedia entry has no file URL, so its
    ``FileUrl`` is left out (the region comes from the backfill envelope instead).
    """
    event_type, id_field, key = _EVENTS[kind]
    found = item.get(key)
    shown: Dict[str, Any] = found if isinstance(found, dict) else {}
    media_id = shown.get(id_field) or item.get("MediaId")
    if not media_id:
        return None
    body: Dict[str, Any] = {"EventType": event_type, id_field: str(media_id), "Status": "success",
                            "EventTime": shown.get("CreationTime") or item.get("CreationTime")}
    if isinstance(shown.get("Size"), int):
        body["Size"] = shown["Size"]
    if kind == IMAGE and shown.get("URL"):
        body["FileURL"] = shown["URL"]
    if kind == IMAGE and shown.get("AppId"):
        body["AppId"] = shown["AppId"]
    return body


def envelope(region: str, event: dict, *, listed_by: str = LISTED_BY) -> dict:
    """``event`` marked as a backfill of ``region`` (vodai.events.envelopes reads it)."""
    return {BACKFILL_MARK: {"Region": region, "ListedBy": listed_by}, "Event": event}


def item_id(region: str, kind: str, media_id: str) -> str:
    return f"{region}:{kind}:{media_id}"


def backfill_items(search: Search, region: str, window: Window, kinds: Sequence[str] = MEDIA_KINDS, *,
                   page_size: int = MAX_SEARCH_PAGE_SIZE, on_page: Optional[Callable[[int], None]] = None,
                   on_total: Optional[Callable[[str, int], None]] = None) -> Iterator[Tuple[str, bytes]]:
    """``(item_id, body)`` for every media of ``kinds`` created in ``window`` in ``region``.

    ``item_id`` is ``"<region>:<video|image>:<media id>"`` (unique per media, stable across runs:
    what a checkpoint records); ``body`` the JSON bytes of the backfill envelope, what the on_upload
    function takes (raw, or as an MNS message body). Videos first, then images, each oldest first.
    A generator: one SearchMedia page is held at a time (``on_page``, ``on_total``: see :func:`list_media`).
    """
    for kind in kinds:
        for item in list_media(search, region, kind, window, page_size=page_size, on_page=on_page, on_total=on_total):
            event = upload_event(kind, region, item)
            if event is not None:
                body = json.dumps(envelope(region, event), ensure_ascii=False, separators=(",", ":"))
                yield item_id(region, kind, event[_EVENTS[kind][1]]), body.encode("utf-8")


def with_retries(search: Search, deps: Any) -> Search:
    """``search`` retried like the pipeline's calls (throttling, 5xx, lost connections): a listing
    is a read, so every attempt is a fresh request."""
    from .retry import is_retryable_api_error, retry_call

    def call(*args: Any, **kw: Any) -> dict:
        return retry_call(lambda _n: search(*args, **kw), deps.retry, retryable=is_retryable_api_error,
                          sleep=deps.sleep, rand=deps.rand)

    return call


def vod_search(settings: Any, credentials: Any, *, endpoint: Optional[str] = None) -> Search:
    """SearchMedia of the VOD endpoint ``endpoint`` (default: the configured one, or Alibaba
    Cloud's of each region), with ``credentials`` and the settings' timeouts, signature version
    and retries (:func:`with_retries`).

    Parameters
    ----------
    settings : vodai.config.Settings
        Where the endpoint, timeouts, signature version and retry policy come from.
    credentials : vodai.credentials.Credentials
        The caller's (the standard chain's).
    endpoint : str, optional
        Another VOD endpoint, e.g. a running ``vodai emulator``'s URL.
    """
    import random
    import time
    from types import SimpleNamespace

    from .clients.session import new_session
    from .clients.vod import VodClient
    from .pipeline.dependencies import retry_policy

    client = VodClient(credentials, new_session(), endpoint=endpoint or settings.vod_endpoint,
                       signature_version=settings.signature_version,
                       timeout=(settings.connect_timeout, settings.read_timeout))
    return with_retries(client.search_media, SimpleNamespace(retry=retry_policy(settings), sleep=time.sleep,
                                                             rand=random.random))


def items_of(pairs: Iterable[Tuple[str, bytes]]) -> list:
    """Replay items (:class:`vodai.replay.sources.Item`) of ``(item_id, body)`` pairs."""
    from .replay.sources import Item

    return [Item(source=f"backfill:{key}", raw=body) for key, body in pairs]


__all__ = ["IMAGE", "LISTED_BY", "MEDIA_KINDS", "VIDEO", "Window", "backfill_items", "envelope", "item_id", "items_of",
           "list_media", "parse_kinds", "upload_event", "vod_search", "with_retries"]
