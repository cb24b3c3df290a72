"""`make help` lists every documented target of the Makefile (it once skipped `e2e`: its pattern had no digits)."""

from __future__ import annotations

import re
import subprocess

from harness.paths import REPO_ROOT


def test_make_help_lists_every_documented_target():
    makefile = (REPO_ROOT / "Makefile").read_text()
    documented = re.findall(r"^([A-Za-z0-9_.-]+):[^=\n]*## (.+)$", makefile, re.MULTILINE)
    assert len(documented) > 10
    listed = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    for target, description in documented:
        assert re.search(rf"^  make {re.escape(target)}\s+{re.escape(description.strip())}$", listed, re.MULTILINE), \
            f"make help does not list `{target}`:\n{listed}"
    assert "make e2e " in listed
