"""Which functions the shim can serve, what kind each is, and loading them from their files.

An **event** function is ``handler(event: bytes, context)`` (FC's ``/invoke``); an **HTTP**
function is a WSGI callable ``handler(environ, start_response)`` reading the FC context from
``environ["fc.context"]`` (FC 2.0's Python HTTP-function convention). Both may define
``initializer(context)``.

No Flask here: this module is imported by ``vodai serve --help`` and by tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping, Optional

from ..exceptions import FunctionNotFound

EVENT = "event"
HTTP = "http"


@dataclass(frozen=True)
class FunctionSpec:
    """One FC function of this project: its name, its kind (event or HTTP) and its entry points."""

    name: str
    kind: str  # EVENT or HTTP
    entry: str = "index.py"  # relative to functions/<name>/
    handler: str = "handler"
    initializer: str = "initializer"
    #: "module:function" that reads and checks the function's settings, called with the context
    #: by every /initialize before the module's own initializer: bad settings refuse the start.
    configure: Optional[str] = None


REGISTRY: Mapping[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("on_upload", EVENT, configure="vodai.handler:initializer"),
        FunctionSpec("vod_callback", HTTP, configure="vodai.callback:initializer"),
        # A Timer trigger: follows submitted jobs to their result.
        FunctionSpec("track_jobs", EVENT, configure="vodai.track_jobs:initializer"),
    )
}


def lookup(name: Optional[str], registry: Mapping[str, FunctionSpec] = REGISTRY) -> FunctionSpec:
    """The spec for ``name``; FC function names often use '-', so 'on-upload' finds 'on_upload'."""
    if not name:
        raise FunctionNotFound("no function to serve: set VODAI_FUNCTION (or send x-fc-function-name)")
    spec = registry.get(name) or registry.get(name.replace("-", "_"))
    if spec is None:
        raise FunctionNotFound(f"unknown function {name!r}: expected one of {', '.join(sorted(registry))}")
    return spec


def default_functions_dir() -> Path:
    """``functions/`` next to the ``vodai`` package: the deployed code root (``<root>/vodai``),
    else the repository (``<root>/shared/vodai``), else the working directory."""
    package = Path(__file__).resolve().parent.parent
    candidates = [package.parent / "functions", package.parent.parent / "functions", Path.cwd() / "functions"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


@dataclass
class LoadedFunction:
    """A function's module as loaded from its file, and whether its initializer has run."""

    spec: FunctionSpec
    module: ModuleType
    path: Path
    _init_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    initialized: bool = False

    @property
    def handler(self) -> Callable[..., Any]:
        handler = getattr(self.module, self.spec.handler, None)
        if not callable(handler):
            raise AttributeError(f"{self.path}: no callable {self.spec.handler!r}")
        return handler

    def initialize(self, context: Any) -> bool:
        """Check the settings (``spec.configure``), then run ``initializer(context)``, once per
        instance; False when the module has no initializer. A failure is not marked done, so
        FC's next /initialize tries again."""
        initializer = getattr(self.module, self.spec.initializer, None)
        with self._init_lock:
            if not self.initialized:
                if self.spec.configure:
                    module, _, name = self.spec.configure.partition(":")
                    getattr(importlib.import_module(module), name)(context)
                if initializer is not None:
                    initializer(context)
                self.initialized = True
        return initializer is not None


class Functions:
    """Loads each function module once (on first use), thread-safe, from ``<dir>/<name>/index.py``."""

    def __init__(self, functions_dir: Optional[Path] = None, registry: Mapping[str, FunctionSpec] = REGISTRY):
        self.functions_dir = Path(functions_dir) if functions_dir is not None else default_functions_dir()
        self.registry = registry
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def spec(self, name: Optional[str]) -> FunctionSpec:
        return lookup(name, self.registry)

    def load(self, name: Optional[str]) -> LoadedFunction:
        spec = self.spec(name)
        with self._lock:
            loaded = self._loaded.get(spec.name)
            if loaded is None:
                loaded = self._loaded[spec.name] = _load(spec, self.functions_dir / spec.name / spec.entry)
            return loaded


def _load(spec: FunctionSpec, path: Path) -> LoadedFunction:
    if not path.is_file():
        raise FunctionNotFound(f"function {spec.name!r}: {path} does not exist")
    # FC puts the function's code root on sys.path, so sibling modules import; appended, so a
    # function's file can never shadow vodai or the standard library.
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    module_name = f"vodai_function_{spec.name}"  # unique: every function's file is index.py
    importer = importlib.util.spec_from_file_location(module_name, path)
    if importer is None or importer.loader is None:
        raise FunctionNotFound(f"function {spec.name!r}: {path} cannot be imported")
    module = importlib.util.module_from_spec(importer)
    # importlib's documented recipe for importing a file: registered first, so the module's own
    # code finds itself (pickling, dataclasses), and removed again if it fails.
    sys.modules[module_name] = module
    try:
        importer.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return LoadedFunction(spec, module, path)
