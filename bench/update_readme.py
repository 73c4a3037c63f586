"""Put the latest figures into README.md: replaces what is between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` with the targets of ``bench/results/latest.json`` and one line naming the
machine (:func:`bench.report.readme_block`); the full tables stay in ``latest.md``. ``make bench``
runs it.

    .venv/bin/python bench/update_readme.py [--readme README.md] [--results bench/results/latest.md]

``--results`` names latest.md or latest.json: the JSON beside it is read. Without the markers in
the README it changes nothing and says so (exit status 0).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"



def _report():
    """bench/report.py, loaded from its file: as a script (or from the tests, whose own ``bench``
    package shadows this one) ``bench.report`` may not be importable by name."""
    name = "_vodai_bench"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "__init__.py",
                                                      submodule_search_locations=[str(ROOT / "bench")])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.report")


def block(results: Path) -> str:
    doc = json.loads(results.with_suffix(".json").read_text(encoding="utf-8"))
    return _report().readme_block(doc).strip()


def update(readme: Path, results: Path) -> bool:
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        print(f"update_readme: no {START} … {END} block in {readme}: nothing changed", file=sys.stderr)
        return False
    new = pattern.sub(lambda _m: f"{START}\n{block(results)}\n{END}", text, count=1)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    print(f"update_readme: {readme} has the targets of {results.with_suffix('.json')}", file=sys.stderr)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    if not args.results.with_suffix(".json").exists():
        print(f"update_readme: {args.results.with_suffix('.json')} does not exist (run make bench)", file=sys.stderr)
        return 1
    update(args.readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
