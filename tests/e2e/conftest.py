"""The environment harness (`make e2e ENV=sandbox|local|aws`).

The sandbox runs offline everywhere (and in `make test`); `local` needs a reachable Minikube/kind
context and `aws` an explicit opt-in with credentials. A skipped environment says exactly what was
missing.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def selected_environments() -> set[str]:
    """`E2E_ENVIRONMENTS` (set by `make e2e ENV=...`); unset means every environment may run."""
    raw = os.environ.get("E2E_ENVIRONMENTS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}
