"""What the repository tracks: no path of a developer's machine, only the latest benchmark results,
and a README for users within its size."""

import re
import shutil
import subprocess

import pytest

from conftest import ROOT

README_LIMIT = 25_000
# A home or work directory of some machine; FC's own paths (/code, /opt, /var/fc) and /tmp as a
# documented default are not machine paths.
MACHINE_PATH = re.compile(r"(?<![\w.$})/-])/(?:work|home|root|Users)/[\w.-]+")


def _tracked() -> list:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in out.stdout.decode().split("\0") if name]


def test_the_pattern_finds_machine_paths_and_leaves_runtime_paths():
    # Spelled in pieces, so that this file does not hold what it looks for.
    for home in ("work", "home", "Users", "root"):
        assert MACHINE_PATH.search(f'"out": "/{home}/main/bench/results"'), home
    assert MACHINE_PATH.search("see " + "/home" + "/dev/vodai/notes.md")
    for fine in ("/code/routes.json", "/opt/python3.12/bin/python3", "/var/fc/lang", "sqlite:////tmp/vodai.sqlite3",
                 "$HOME/.pyenv/versions", "https://example.com/home/page"):
        assert not MACHINE_PATH.search(fine), fine


def test_no_tracked_file_names_a_path_on_a_developers_machine():
    found = []
    for name in _tracked():
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            match = MACHINE_PATH.search(line)
            if match:
                found.append(f"{name}:{number}: {match.group(0)}")
    assert not found, "\n".join(found)


def test_only_the_latest_benchmark_results_are_tracked():
    results = sorted(name for name in _tracked() if name.startswith("bench/results/"))
    assert results == ["bench/results/latest.json", "bench/results/latest.md"]
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", "bench/results/2030-01-01T0000Z.md"], cwd=ROOT)
    assert ignored.returncode == 0, "dated results must be git-ignored"
    for name in results:
        kept = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT)
        assert kept.returncode == 1, f"{name} must not be git-ignored"


def test_the_readme_is_within_its_size_and_keeps_the_benchmark_block():
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= README_LIMIT, f"README.md is {len(readme)} bytes (at most {README_LIMIT})"
    text = readme.decode("utf-8")
    assert text.count("<!-- bench:start -->") == 1 and text.count("<!-- bench:end -->") == 1
    assert text.index("<!-- bench:start -->") < text.index("<!-- bench:end -->")


def test_the_readme_settings_table_names_every_setting():
    from vodai.config import ENV_PREFIX, Settings

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Settings"):text.index("\n## ", text.index("## Settings") + 1)]
    rows = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            rows.update(re.findall(r"`(VODAI_\w+)`", line.split("|")[1]))  # the first column
    settings = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert settings <= rows, f"not in README.md's settings table: {sorted(settings - rows)}"
