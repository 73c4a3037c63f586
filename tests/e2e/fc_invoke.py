"""Call functions/on_upload/index.py's handler the way FC's Python runtime does: bytes plus a context.

Run as a script (so it can run under the Python 3.12 that FC uses):
    python fc_invoke.py EVENT_FILE CONTEXT_JSON
prints the handler's return value on stdout; exits 1 with the error on stderr when it raises.
"""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def fc_context(doc: dict):
    """An object shaped like FC 2.0's context (attributes, not a dict)."""
    creds = doc.get("credentials")
    return _Obj(
        request_id=doc["request_id"],
        region=doc.get("region"),
        account_id=doc.get("account_id"),
        credentials=_Obj(**creds) if creds else None,
        function=_Obj(name="on_upload", handler="index.handler", memory=512, timeout=str(doc.get("timeout", 60))),
        service=_Obj(name="vodai", log_project="", log_store="", qualifier="LATEST", version_id=""),
        retry_count=0,
    )


def load_handler():
    spec = importlib.util.spec_from_file_location("index", ROOT / "functions" / "on_upload" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


if __name__ == "__main__":
    event = Path(sys.argv[1]).read_bytes()
    context = fc_context(json.loads(sys.argv[2]))
    try:
        print(load_handler()(event, context))
    except Exception as exc:  # report like FC's runtime: type and message
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
