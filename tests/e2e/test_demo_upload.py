"""`make demo-upload` as a user runs it: every piece a real process, each step seen in order."""

import re
import subprocess
import sys

import pytest

from vodai.demo import STEPS


@pytest.mark.e2e
def test_demo_upload_shows_every_step_in_order():
    proc = subprocess.run([sys.executable, "-c", "from vodai.cli import main; main()", "demo-upload", "--timeout", "60"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    uploads = [line.split(": ", 1)[1] for line in lines if line.startswith("uploaded: ")]
    assert len(uploads) == 2
    for label in ("video upload in cn-shanghai", "image upload in ap-southeast-1"):
        steps = [m.group(1) for line in lines if label in line and (m := re.search(r"\s(" + "|".join(STEPS) + r")\s", line))]
        assert steps == STEPS, (label, steps)
    assert any("SubmitAIImageJob JobId" in line for line in lines)
    assert any("SubmitAIImageAuditJob JobId" in line for line in lines)
    assert "every upload reached its completion message" in proc.stdout
