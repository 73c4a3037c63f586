"""Put the latest figures into README.md: replaces what is between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` with ``bench/results/latest.md`` (without its heading). ``make bench`` runs it.

    .venv/bin/python bench/update_readme.py [--readme README.md] [--results bench/results/latest.md]

Without the markers in the README it changes nothing and says so (exit status 0).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def block(results_md: str) -> str:
    lines = results_md.strip().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return "\n".join(lines).strip()


def update(readme: Path, results: Path) -> bool:
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        print(f"update_readme: no {START} … {END} block in {readme}: nothing changed", file=sys.stderr)
        return False
    new = pattern.sub(lambda _m: f"{START}\n{block(results.read_text(encoding='utf-8'))}\n{END}", text, count=1)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    print(f"update_readme: {readme} has the figures of {results}", file=sys.stderr)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    if not args.results.exists():
        print(f"update_readme: {args.results} does not exist (run make bench)", file=sys.stderr)
        return 1
    update(args.readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
