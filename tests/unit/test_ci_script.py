"""The CI entry point is valid shell and ends by running the README's test command."""

import subprocess

from conftest import ROOT


def test_ci_run_parses_and_calls_make_test():
    script = ROOT / ".ci" / "run"
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    lines = [line.strip() for line in script.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"
