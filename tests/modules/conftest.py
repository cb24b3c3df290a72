"""Fixtures for the Terraform module tests: one moto server, slow lifecycles started first.

The slowest parts of these tests are waits inside the AWS provider, not work: ~55 s after writing an
S3 lifecycle configuration (the provider wants ten identical reads, 5 s apart), KMS key propagation,
EKS deletion. So the two full lifecycles (s3-staging's complete example, the state bucket with a locked
backend) and the checkov scan start in the background as soon as the first test
of this directory runs, and the tests that assert on them collect the results. Everything that
installs providers (`terraform init`) stays in the main thread: Terraform's plugin cache is not safe
for concurrent installs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.modules import scenarios
from tests.modules.support import CHECKOV_TARGETS, REPO_ROOT, ROOTS, Aws, Root, workspace

# Fixtures whose work runs in the background; started together before the first test here runs.
BACKGROUND_FIXTURES = ("checkov_report", "s3_complete_run", "remote_state_run")
RESULT_TIMEOUT = 420


def pytest_collection_modifyitems(session, config, items) -> None:
    """Within this directory: the tests waiting on background results last.

    The background runs spend most of their time waiting on the AWS provider; the other tests here
    (plans, validation, the fast s3 apply, the git source) do their work in the meantime instead of
    queueing behind a wait.
    """
    here = str(Path(__file__).parent)
    positions = [index for index, item in enumerate(items) if str(item.path).startswith(here)]
    mine = [items[index] for index in positions]
    waiting = [item for item in mine if set(item.fixturenames) & set(BACKGROUND_FIXTURES)]
    ordered = [item for item in mine if item not in waiting] + waiting
    for index, item in zip(positions, ordered, strict=True):
        items[index] = item


_TIMINGS: list[tuple[str, str, float]] = []


def pytest_runtest_logreport(report) -> None:
    """Keep the apply/destroy durations tests record, for the summary below."""
    if report.when == "call":
        _TIMINGS.extend((report.nodeid.split("::")[-1], name, value)
                        for name, value in report.user_properties if name.endswith("_seconds"))


def pytest_terminal_summary(terminalreporter) -> None:
    if _TIMINGS:
        terminalreporter.section("Terraform on the emulator: measured durations")
        for test, name, value in _TIMINGS:
            terminalreporter.write_line(f"{value:6.1f}s  {name:<28} {test}")


class Pending:
    """A background result; `get()` waits for it and re-raises whatever the background run raised."""

    def __init__(self, future: Future):
        self.future = future

    def get(self, timeout: float = RESULT_TIMEOUT):
        return self.future.result(timeout=timeout)


@pytest.fixture(scope="session")
def background() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=len(BACKGROUND_FIXTURES), thread_name_prefix="tf-bg") as pool:
        yield pool


@pytest.fixture(autouse=True)
def _start_background_work_early(request) -> None:
    """Start the background fixtures the selected tests need, before any of those tests runs.

    Under pytest-xdist this whole directory runs on one worker (tests/conftest.py groups by
    directory), so `session.items` here are this worker's tests.
    """
    wanted = {name for item in request.session.items for name in item.fixturenames if name in BACKGROUND_FIXTURES}
    for name in BACKGROUND_FIXTURES:
        if name in wanted:
            request.getfixturevalue(name)  # session-scoped: started once, a no-op afterwards


def _wait_quietly(pending: Pending) -> None:
    # Teardown: the run destroys what it applied itself; just never leave it running past the session.
    try:
        pending.get()
    except Exception:  # noqa: BLE001 - the test that owns the result reports the error
        pass


@pytest.fixture(scope="session")
def s3_complete_run(background, tmp_path_factory, aws_env, moto) -> Iterator[Pending]:
    """modules/s3-staging/examples/complete, applied with its lifecycle rules, KMS key and role."""
    ws = workspace(tmp_path_factory.mktemp("s3-complete"), ["modules/s3-staging"])
    root = Root(ws / "modules/s3-staging/examples/complete", aws_env, provider="override").init()
    bucket = f"stg-complete-{os.urandom(3).hex()}"
    pending = Pending(background.submit(scenarios.s3_complete, root, Aws(aws_env), bucket))
    yield pending
    _wait_quietly(pending)


@pytest.fixture(scope="session")
def remote_state_run(background, tmp_path_factory, aws_env, moto) -> Iterator[Pending]:
    """envs/bootstrap applied, then a root with `backend "s3" {}` locking its state in that bucket."""
    ws = workspace(
        tmp_path_factory.mktemp("remote-state"), ["envs/bootstrap"], extra={"roots/remote_state": ROOTS / "remote_state"}
    )
    # The real state bucket refuses to be destroyed; this throwaway copy must not.
    bootstrap = Root(ws / "envs/bootstrap", aws_env, provider="override").init(disable_prevent_destroy=True)
    # The consumer needs no provider (terraform_data is built in): its init runs in the background
    # without touching the plugin cache.
    consumer = Root(ws / "roots/remote_state", aws_env)
    bucket = f"tfstate-test-{os.urandom(3).hex()}"
    pending = Pending(background.submit(scenarios.remote_state, bootstrap, consumer, Aws(aws_env), bucket))
    yield pending
    _wait_quietly(pending)


def _json_documents(text: str) -> list:
    """checkov prints one JSON document per --directory, back to back."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        documents.extend(document if isinstance(document, list) else [document])


def _merge_checkov_reports(reports: list[dict]) -> dict:
    merged: dict = {"documents": len(reports),
                    "results": {"passed_checks": [], "failed_checks": [], "skipped_checks": []},
                    "summary": {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}}
    for report in reports:
        for kind in merged["results"]:
            merged["results"][kind] += report.get("results", {}).get(kind, [])
        for key in merged["summary"]:
            merged["summary"][key] += report.get("summary", {}).get(key, 0)
    return merged


@pytest.fixture(scope="session")
def checkov_report(background) -> Pending:
    """checkov over the modules and the bootstrap root, offline, once per session."""
    checkov = os.environ.get("CHECKOV_BIN") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")

    def scan() -> dict:
        if not Path(checkov).exists():
            raise FileNotFoundError(f"checkov not found at {checkov}; run `make tools` (it installs .venv-checkov)")
        args = [checkov, "--framework", "terraform", "--skip-download", "--compact", "--output", "json"]
        for target in CHECKOV_TARGETS:
            args += ["--directory", target]
        result = subprocess.run(
            args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
        )
        reports = _json_documents(result.stdout)
        if not reports:
            raise RuntimeError(
                f"checkov printed no JSON report (exit {result.returncode}):\n{result.stdout[:2000]}\n{result.stderr[-3000:]}"
            )
        return _merge_checkov_reports(reports)

    return Pending(background.submit(scan))
