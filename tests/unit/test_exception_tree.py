"""Every exception class vodai defines lives in ``vodai/exceptions.py``, in one documented tree."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import vodai
from vodai import exceptions

PACKAGE = Path(vodai.__file__).resolve().parent

# The emulator's wire errors: the emulated services' protocol (rendered as a VOD or MNS error
# envelope, or as a dropped connection), not errors of vodai.
ALLOWED = {
    ("emulator/errors.py", "EmulatorError"),
    ("emulator/server.py", "ConnectionAbort"),
    ("emulator/server.py", "_BadRequest"),
}

BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def exception_classes() -> list[tuple[str, str]]:
    """(module path, class name) of every class deriving from an exception, by name, to a fixed point."""
    trees = {str(p.relative_to(PACKAGE)): ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py")}
    known = set(BUILTIN_EXCEPTIONS) | {"WatchError", "ClickException", "HTTPException"}
    found: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for path, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and (path, node.name) not in found \
                        and any(_base_name(b) in known for b in node.bases):
                    found.add((path, node.name))
                    known.add(node.name)
                    changed = True
    return sorted(found)


def test_every_exception_class_is_defined_in_exceptions_py():
    outside = [f"{path}: {name}" for path, name in exception_classes()
               if path != "exceptions.py" and (path, name) not in ALLOWED]
    assert outside == [], "define these in vodai/exceptions.py (and add them to its tree): " + ", ".join(outside)


def test_the_tree_in_the_docstring_names_every_class():
    doc = exceptions.__doc__ or ""
    missing = [name for path, name in exception_classes() if path == "exceptions.py" and name not in doc]
    assert missing == []


def test_old_import_paths_still_work():
    from vodai.handler import InvocationFailed
    from vodai.idempotency import IdempotencyError, StoreUrlError
    from vodai.pipeline.jobs import UncertainSubmit
    from vodai.tracking import TrackingError

    assert InvocationFailed is exceptions.InvocationFailed
    assert UncertainSubmit is exceptions.UncertainSubmit
    assert (IdempotencyError, StoreUrlError, TrackingError) == (
        exceptions.IdempotencyError, exceptions.StoreUrlError, exceptions.TrackingError)
