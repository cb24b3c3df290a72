"""The eks module's apply for tests/modules/test_eks.py, run in the background while that file's plan tests run.

Only test_eks.py uses this; every other module test is a self-contained file that runs Terraform
through tests/conftest.py's `terraform_copy`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.modules import scenarios
from tests.modules.support import ROOTS, Aws, Root, workspace

RESULT_TIMEOUT = 420


class Pending:
    """A background result; `get()` waits for it and re-raises whatever the background run raised."""

    def __init__(self, future: Future):
        self.future = future

    def get(self, timeout: float = RESULT_TIMEOUT):
        return self.future.result(timeout=timeout)


@pytest.fixture(scope="session")
def eks_apply_run(tmp_path_factory, aws_env, moto) -> Iterator[Pending]:
    """modules/eks applied through tests/modules/roots/eks (what moto implements)."""
    ws = workspace(tmp_path_factory.mktemp("eks-apply"), ["modules/eks"], extra={"roots/eks": ROOTS / "eks"})
    root = Root(ws / "roots/eks", aws_env, provider="module").init()
    cluster = f"eks-{os.urandom(3).hex()}"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="eks-apply") as pool:
        pending = Pending(pool.submit(scenarios.eks_apply, root, Aws(aws_env), cluster))
        yield pending
        try:  # the run destroys what it applied itself; just never leave it running past the session
            pending.get()
        except Exception:  # noqa: BLE001 - the test that owns the result reports the error
            pass
