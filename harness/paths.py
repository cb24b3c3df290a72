"""Where things are in the checkout, computed once for the harness, the tests and the benchmarks.

The harness is installed editable (`pip install -e .`, see the Makefile), so this file stays in the
checkout and the repository root is two levels up from it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_DIR = REPO_ROOT / "app"
# Terraform's plugin cache and generated CLI configuration; REPO_CACHE_DIR moves it (e.g. to a CI cache).
CACHE_DIR = Path(os.environ.get("REPO_CACHE_DIR", REPO_ROOT / ".cache"))
# checkov lives in its own virtual environment (`make tools`): its pins conflict with the test tools'.
CHECKOV_BIN = Path(os.environ.get("CHECKOV_BIN") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
