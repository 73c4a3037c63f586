"""The proposed warm-path fixes, applied as monkeypatches (each one a no-op where the tree already
has the change) so their gain can be measured without
touching ``shared/`` (``bench/run.py --benchmarks experiments``, ``python -m bench.warm --patch``,
the replay worker's ``--patch``). Each patch is what the corresponding change in ``shared/`` would
do; ``bench/README.md`` gives the change itself.

- ``prepare``: build the ``requests.PreparedRequest`` directly instead of
  ``Session.prepare_request`` + ``PreparedRequest.prepare``. vodai already encodes the URL exactly
  as it signed it, so requests' URL parsing and re-quoting (urllib3 ``parse_url``,
  ``_encode_invalid_chars`` over the whole signed query), hook/cookie/auth merging and the
  runtime-``Protocol`` ``isinstance`` checks of requests 2.34 are pure overhead. Same bytes on the wire.
- ``asdict``: ``Outcome.to_dict`` and ``TrackedJob.to_json``/``copy`` without
  ``dataclasses.asdict`` (which deep-copies recursively): a shallow ``vars()`` copy (values are
  str/int/float/None or small dicts that are never mutated after being set).
- ``encode``: percent-encode each key and value once (an identity fast path for unreserved
  strings, a small cache for the rest): the V3 canonical query and the URL are the same string,
  today encoded twice, each time through ``urllib.parse.quote``.
- ``memstore``: the ``memory://`` store copies records with ``copy.copy`` (``Record`` holds only
  scalars) instead of ``copy.deepcopy`` (test and local store only; Redis/SQLite serialize JSON).
- ``sqlite``: ``PRAGMA synchronous=NORMAL`` on the SQLite idempotency and tracking stores (WAL
  mode): a commit no longer waits for an fsync of the WAL (here about 5 ms, 4 commits per
  event). Still safe against a crash of the process; only a power loss can drop the last
  commits, the durability Redis gives by default (``appendfsync everysec``).
- ``plugins``: ``PYDANTIC_DISABLE_PLUGINS=__all__`` (cold start only: pydantic scans every
  installed distribution's entry points the first time a model class is built).
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Iterable, List

_applied: List[str] = []


def _patch_prepare() -> None:
    import requests
    from requests.hooks import default_hooks
    from requests.models import PreparedRequest
    from requests.structures import CaseInsensitiveDict

    def prepare_request(self: requests.Session, request: requests.Request) -> PreparedRequest:
        if request.params or request.files or request.json is not None or request.auth or request.cookies \
                or not isinstance(request.data, (bytes, type(None))):
            return _original_prepare(self, request)  # anything vodai does not send: the general path
        p = PreparedRequest()
        p.method = request.method.upper()
        p.url = request.url
        headers = CaseInsensitiveDict(self.headers)
        for k, v in request.headers.items():
            headers[k] = v
        for k in [k for k, v in headers.items() if v is None]:
            del headers[k]
        body = request.data or None
        if body is not None:
            headers["Content-Length"] = str(len(body))
        elif p.method not in ("GET", "HEAD") and "Content-Length" not in headers:
            headers["Content-Length"] = "0"
        p.headers, p.body, p.hooks = headers, body, default_hooks()
        p._cookies = None
        return p

    _original_prepare = requests.Session.prepare_request
    requests.Session.prepare_request = prepare_request


def _patch_asdict() -> None:
    from vodai.pipeline import outcome as oc

    pascal = {}

    def to_dict(self) -> dict:
        out = {}
        for k, v in vars(self).items():
            if v is not None:
                name = pascal.get(k)
                if name is None:
                    name = pascal[k] = oc._pascal(k)
                out[name] = dict(v) if isinstance(v, dict) else v
        return out

    oc.Outcome.to_dict = to_dict
    _patch_record_json()
    try:
        import json

        from vodai.tracking import base as tb
    except ImportError:  # the tracking module is new: an older tree has nothing to patch
        return

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":"))

    def copy(self):
        new = object.__new__(type(self))
        new.__dict__.update({k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                             for k, v in vars(self).items()})
        return new

    tb.TrackedJob.to_json = to_json
    tb.TrackedJob.copy = copy


def _patch_record_json() -> None:
    import json

    from vodai.idempotency import base as ib

    def to_json(self) -> str:
        return json.dumps(vars(self), separators=(",", ":"))

    ib.Record.to_json = to_json


def _patch_encode() -> None:
    import functools
    import importlib
    import re
    import sys

    for name in ("vodai.signing", "vodai.signing.acs3", "vodai.signing.rpc", "vodai.clients.vod"):
        importlib.import_module(name)
    from vodai.signing import _encoding

    original = _encoding.percent_encode
    unreserved = re.compile(r"[A-Za-z0-9_.~-]*\Z").match

    @functools.lru_cache(maxsize=1024)
    def percent_encode(value: str) -> str:
        return value if unreserved(value) else original(value)

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("vodai") and getattr(module, "percent_encode", None) is original:
            module.percent_encode = percent_encode


def _patch_memstore() -> None:
    import copy
    import types

    from vodai.idempotency.backends import memory

    # Record holds only str/int/float/None: a shallow copy is a full copy (a no-op where the
    # store already copies shallowly).
    memory.copy = types.SimpleNamespace(copy=copy.copy, deepcopy=copy.copy)


def _patch_sqlite() -> None:
    from vodai.idempotency.backends import sqlite as store_sqlite

    classes = [store_sqlite.SqliteStore]
    try:
        from vodai.tracking.backends import sqlite as tracking_sqlite

        classes.append(tracking_sqlite.SqliteTracking)
    except ImportError:
        pass
    for cls in classes:
        original = cls.__init__

        def __init__(self, *args, __original=original, **kwargs):
            __original(self, *args, **kwargs)
            db, lock = getattr(self, "_db", None), getattr(self, "_lock", None)
            if db is not None and lock is not None:
                with lock:
                    db.execute("PRAGMA synchronous=NORMAL")

        cls.__init__ = __init__


def _patch_plugins() -> None:
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"


PATCHES: Dict[str, Callable[[], None]] = {
    "prepare": _patch_prepare,
    "asdict": _patch_asdict,
    "encode": _patch_encode,
    "memstore": _patch_memstore,
    "sqlite": _patch_sqlite,
    "plugins": _patch_plugins,
}


def _already(name: str) -> bool:
    """True when the tree already has the fix (then the patch must not replace the tree's code)."""
    import inspect

    try:
        if name == "prepare":
            from vodai.clients import transport

            return hasattr(transport, "prepared")
        if name == "asdict":
            from vodai.pipeline import outcome

            return "asdict(" not in inspect.getsource(outcome.Outcome.to_dict)
        if name == "encode":
            from vodai.signing import _encoding

            return hasattr(_encoding, "canonical_query")
        if name == "memstore":
            from vodai.idempotency.backends import memory

            return "deepcopy" not in inspect.getsource(memory)
        if name == "sqlite":
            from vodai.idempotency.backends import sqlite

            return "synchronous=NORMAL" in inspect.getsource(sqlite)
    except (ImportError, OSError, TypeError):
        return False
    return False


_skipped: List[str] = []


def apply(names: Iterable[str]) -> List[str]:
    for name in names:
        if name and name not in _applied and name not in _skipped:
            if _already(name):
                _skipped.append(name)
                continue
            PATCHES[name]()
            _applied.append(name)
    return list(_applied)


def skipped() -> List[str]:
    return list(_skipped)
