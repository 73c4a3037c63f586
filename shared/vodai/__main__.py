"""The ``vodai`` command's entry point (also ``python -m vodai``).

Imports nothing of the command line's extra itself, so that a ``pip install vodai`` without
``[tools]`` gets a one-line answer saying what to install instead of a traceback.
"""

import sys
from typing import Optional, Sequence

from .extras import NEEDS_EXTRA, missing_extra


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
