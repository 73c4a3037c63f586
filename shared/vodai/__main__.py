"""The ``vodai`` command's entry point (also ``python -m vodai``).

Imports nothing of the command line's extra itself, so that a ``pip install vodai`` without
``[tools]`` gets a one-line answer saying what to install instead of a traceback.
"""

import sys
from typing import Optional, Sequence

#: Top-level modules that the ``tools`` extra (pyproject.toml) brings in.
TOOLS_MODULES = frozenset({"click", "rich", "flask", "werkzeug", "waitress", "yaml", "alibabacloud_credentials"})
NEEDS_EXTRA = "vodai's command line needs its extra: pip install 'vodai[tools]'"


def missing_extra(exc: BaseException) -> bool:
    """Whether ``exc`` says that a module of the ``tools`` extra is not installed."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").partition(".")[0] in TOOLS_MODULES


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the ``vodai`` command line with ``args`` (default: ``sys.argv[1:]``); exits."""
    try:
        from vodai.cli import main as cli
    except ModuleNotFoundError as exc:
        if not missing_extra(exc):
            raise
        print(f"vodai: {NEEDS_EXTRA} ({exc.name} is not installed)", file=sys.stderr)
        sys.exit(1)
    cli.main(args=list(args) if args is not None else None, prog_name="vodai")


if __name__ == "__main__":
    main()
