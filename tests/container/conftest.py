"""Fixtures of the image tests: the engine, the image built once per session, the pod as the chart renders it.

The image is built from app/Dockerfile with the engine harness/container.py finds (docker with a daemon, else
podman) on the base it picks (BASE_IMAGE; the official slim image where a registry answers; else a debootstrap
base, built once and cached by tag). Layer caching keeps a rebuild to seconds when only the app changed.
Where no engine is installed the tests skip with the reason and the install command; under CI=true they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest

from harness import container, processes

# Credentials the emulator accepts, and a token the logs are searched for; never real ones.
EMULATOR_KEY_ID = "testing"
EMULATOR_SECRET = "emulator-secret-4b1d9e"
UPLOAD_TOKEN = "tok-container-5e8a2c7f91d3"


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: the container tests must run here, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> container.Engine:
    try:
        return container.find_engine()
    except container.EngineUnavailable as error:
        _unavailable(str(error))


@pytest.fixture(scope="session")
def image(engine) -> dict:
    """app/Dockerfile built once for the session: `{"image", "base", "build_seconds", "size_bytes"}`."""
    try:
        return container.build_image(engine, tag=f"{container.IMAGE}:test", app_version="9.8.7-test",
                                     log=lambda message: print(message, flush=True))
    except container.EngineUnavailable as error:
        _unavailable(str(error))


@pytest.fixture(scope="session")
def pod_bucket(aws_client) -> str:
    name = f"mirror-image-{secrets.token_hex(3)}"
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def pod(moto, pod_bucket) -> container.Pod:
    """The chart's Deployment, rendered by the real Helm CLI for this emulator and bucket."""
    return container.chart_pod({
        "s3": {"bucket": pod_bucket, "endpointUrl": moto.url},
        "secrets": {"uploadToken": UPLOAD_TOKEN, "awsAccessKeyId": EMULATOR_KEY_ID,
                    "awsSecretAccessKey": EMULATOR_SECRET},
    })


@pytest.fixture(scope="session")
def start_pod(engine, image, pod, logs_dir) -> Iterator[Callable[..., container.Container]]:
    """`start_pod(**run_options)`: the image run as the chart's pod, listening on a free loopback port.

    The one departure from the chart's environment: HOST and PORT, because the container shares the host's
    network (to reach the emulator on loopback) and must listen on loopback only, on a port nobody holds.
    """
    started: list[container.Container] = []

    def start(**options) -> container.Container:
        port = processes.free_port()
        env = {"HOST": processes.LOOPBACK, "PORT": str(port), **options.pop("env", {})}
        name = f"mirror-test-{secrets.token_hex(4)}"
        started.append(container.run(engine, image["image"], pod, logs_dir, name=name, env=env, **options))
        return started[-1]

    yield start
    for running in started:
        running.remove()


@pytest.fixture(scope="session")
def served(start_pod) -> container.Container:
    """One container shared by the read-only tests (the SIGTERM test starts its own)."""
    return start_pod()
