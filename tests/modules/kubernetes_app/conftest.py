"""The kubernetes-app tests run offline: nothing here talks to AWS."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def aws_env() -> dict[str, str]:
    """Overrides the shared fixture so `terraform_copy` does not start a moto server for these tests."""
    return {}
