"""Regular expressions compiled ahead of a cold start, as bytecode is (``__pycache__``).

A handler's imports compile about a hundred regular expressions (urllib3's URL and IPv6
patterns, http.cookiejar, email, logging, vodai's own): on FC's Python 3.10 that is about 160 M
instructions and 20-27 ms of every cold start, 15% of the import, spent producing the same
compiled code every time. ``re`` keeps what it compiles in ``re._cache``, keyed by (type,
pattern, flags); :func:`precompiled` fills that cache, before the imports run, with patterns
built by ``_sre.compile`` from the code a previous process compiled, so their ``re.compile``
calls are look-ups. Each ``functions/*/index.py`` wraps its imports in it::

    with vodai.regexcache.precompiled(__file__):
        from vodai.handler import handle

Like ``.pyc`` files:

- The cache lives beside the handler, ``__pycache__/<name>.<cache_tag>.regexes``. It is written at
  the end of the block when the block compiled patterns it lacked (all of them, the first time), unless
  bytecode writing is off (``-B``, ``PYTHONDONTWRITEBYTECODE``) or the folder is read-only (FC's
  code folder). ``make package`` builds it for FC's Python 3.10 (:func:`build`).
- It is used only by an interpreter of the same implementation and minor version
  (``sys.implementation.cache_tag``, as for ``.pyc``) and regex engine (``_sre.MAGIC``, code size,
  limits). Another interpreter's, a file that does not read, or an entry ``_sre.compile`` refuses
  (it validates the code's structure, which keeps the engine safe, not the code's meaning) is no
  cache: those patterns are compiled as usual. Like a ``.pyc``, it is trusted: a file altered to
  hold other code for a pattern would serve it.
- As with bytecode, the patch release is not pinned: the package's caches hold what the build's
  3.10 (3.10.13 here) compiled, and FC's 3.10.x uses them. A pattern whose compilation changed
  between patch releases (3.10.5's case-insensitive tables, gh-91575) behaves as on the build's.
  A warning the regex parser gives (``FutureWarning: Possible nested set``) is given only where the
  pattern is compiled, not where it is served.
- A pattern is looked up by its text and flags, so a changed dependency cannot get another
  pattern's code; its new patterns are compiled and added at the next write (entries no longer
  used stay until a rebuild). Past ``re``'s own limit (512 patterns) it stops helping.

Private parts of ``re`` are used (``re._cache``, ``_sre.compile``, the compiler's ``_code``), the
same from CPython 3.9 to 3.13 (3.10 and 3.11 tested here); where they are missing, the block just runs.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

try:
    import _sre
except ImportError:  # not CPython: nothing to do
    _sre = None  # type: ignore[assignment]

FORMAT = 1
SUFFIX = "regexes"

Key = Tuple[type, object, int]  # re._cache's key: (type(pattern), pattern, flags)
# What _sre.compile takes, after the pattern and its flags as re.compile was called with them.
Entry = Tuple[object, int, int, List[int], int, Dict[str, int], tuple]


def _usable() -> bool:
    return (_sre is not None and sys.implementation.cache_tag is not None
            and isinstance(getattr(re, "_cache", None), dict) and hasattr(_sre, "compile"))


def _stamp() -> tuple:
    # Everything the compiled code depends on: the interpreter (as .pyc files) and the engine.
    return (FORMAT, sys.implementation.cache_tag, _sre.MAGIC, _sre.CODESIZE, _sre.MAXREPEAT, _sre.MAXGROUPS)


def cache_path(anchor: str) -> Optional[str]:
    """Where the cache of the module at ``anchor`` (a ``__file__``) lives, or None without a cache tag."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    folder, name = os.path.split(os.path.abspath(anchor))
    stem = os.path.splitext(name)[0]
    return os.path.join(folder, "__pycache__", f"{stem}.{tag}.{SUFFIX}")


def load(path: str) -> Dict[Key, Entry]:
    """The entries of the cache at ``path``; empty when it is missing, damaged or another interpreter's."""
    try:
        with open(path, "rb") as f:
            stamp, entries = marshal.loads(f.read())
        if tuple(stamp) != _stamp():
            return {}
        return {(type(e[0]), e[0], e[1]): tuple(e) for e in entries}  # type: ignore[misc]
    except (OSError, EOFError, ValueError, TypeError, IndexError):
        return {}


def _install(entries: Dict[Key, Entry]) -> List[Key]:
    """Put the entries' patterns into ``re._cache`` (never replacing one there); the keys of the
    entries ``_sre.compile`` refused (their patterns are then compiled as usual)."""
    cache = re._cache  # type: ignore[attr-defined]
    room = getattr(re, "_MAXCACHE", 512) - len(cache)  # past it, re would start evicting
    refused = []
    for key, entry in entries.items():
        if room <= 0:
            break
        if key in cache:
            continue
        try:
            pattern, _flags, final_flags, code, groups, groupindex, indexgroup = entry
            cache[key] = _sre.compile(pattern, final_flags, code, groups, groupindex, indexgroup)
            room -= 1
        except (TypeError, ValueError, RuntimeError, OverflowError):  # _sre.compile validates the code
            refused.append(key)
    return refused


def _entry(key: Key, compiled: "re.Pattern") -> Optional[Entry]:
    """What rebuilds ``compiled``: its code compiled again, kept only if it gives an equal pattern."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]  # 3.11+
    except ImportError:
        import sre_compile as _compiler  # 3.10
        import sre_parse as _parser

    kind, pattern, flags = key
    if kind not in (str, bytes) or type(flags) is not int:  # what marshal writes back as it was
        return None
    try:
        parsed = _parser.parse(pattern, flags)
        code = [int(op) for op in _compiler._code(parsed, flags)]  # opcodes are int subclasses
        groupindex = dict(parsed.state.groupdict)
        indexgroup = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        entry = (pattern, flags, flags | parsed.state.flags, code, parsed.state.groups - 1,
                 groupindex, tuple(indexgroup))
        if _sre.compile(*entry[:1], *entry[2:]) != compiled:
            return None
        return entry  # type: ignore[return-value]
    except Exception:  # noqa: BLE001  (a pattern this cannot rebuild is left to re, not an error)
        return None


def save(path: str, keys: List[Key], known: Dict[Key, Entry]) -> bool:
    """Write the patterns of ``keys`` (as now in ``re._cache``) to ``path``, atomically; False if it
    could not be written (a read-only folder: found out before any pattern is rebuilt). Never raises."""
    import tempfile

    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:  # owned by the file at once: closed whatever fails below
            cache = re._cache  # type: ignore[attr-defined]
            entries = []
            for key in keys:
                entry = known.get(key)
                if entry is None and key in cache:
                    entry = _entry(key, cache[key])
                if entry is not None:
                    entries.append(entry)
            f.write(marshal.dumps((_stamp(), entries)))
        os.chmod(tmp, 0o644)  # as a .pyc beside it (mkstemp makes it private)
        os.replace(tmp, path)
        return True
    except Exception:  # noqa: BLE001  (a cache is an optimisation: it never fails the import it serves)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


@contextmanager
def precompiled(anchor: str) -> Iterator[None]:
    """Serve the block's ``re.compile`` calls from the cache of ``anchor`` (a module's ``__file__``),
    and write what the block compiled that the cache lacked, unless bytecode writing is off."""
    path = cache_path(anchor) if _usable() else None
    if path is None:
        yield
        return
    known = load(path)
    for key in _install(known):
        del known[key]  # compiled again in the block, and written anew
    before = set(re._cache)  # type: ignore[attr-defined]  # after the install: what the block adds is new
    yield
    added = [k for k in re._cache if k not in before]  # type: ignore[attr-defined]
    if added and not sys.dont_write_bytecode:
        save(path, list(known) + [k for k in added if k not in known], known)


def build(module: str) -> str:
    """Import ``module`` in this process and write its cache whatever was there: a handler's
    ``index.py`` by path, or a module by dotted name (``vodai.runtime.main``). What ``make package``
    runs, in a fresh Python 3.10 with ``-B`` per entry point; the path of the cache written."""
    import importlib
    import importlib.util

    if not _usable():
        raise RuntimeError("this interpreter has no regular-expression cache to build (not CPython?)")
    if module.endswith(".py"):
        origin: Optional[str] = module
    else:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec else None
    path = cache_path(origin) if origin else None
    if path is None:
        raise RuntimeError(f"{module}: no file to keep a cache beside")
    if os.path.exists(path):
        os.unlink(path)  # built from nothing: a stale cache would serve the import
    before = set(re._cache)  # type: ignore[attr-defined]
    if module.endswith(".py"):
        spec = importlib.util.spec_from_file_location("index", module)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))  # type: ignore[union-attr]
    else:
        importlib.import_module(module)
    keys = [k for k in re._cache if k not in before]  # type: ignore[attr-defined]
    if not save(path, keys, {}):
        raise OSError(f"cannot write {path}")
    return path
