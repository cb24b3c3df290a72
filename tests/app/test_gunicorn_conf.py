"""app/gunicorn.conf.py is read by gunicorn (and anything else) without side effects: importing it only reads
the environment and the open-file limit; the work happens in gunicorn's server hooks (Flask's tutorial: no
import-time side effects). The hooks' effects on a real start are in test_resilience.py."""

from __future__ import annotations

import importlib.util
import os
import resource
import tempfile
from pathlib import Path

import pytest
from prometheus_client import values

from harness.processes import GUNICORN_CONFIG


def _import_config(name: str):
    spec = importlib.util.spec_from_file_location(name, GUNICORN_CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def quiet_process(tmp_path, monkeypatch) -> Path:
    """A temp dir and working directory of the test's own, no metrics directory configured."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return tmp_path


@pytest.mark.parametrize("environ", [
    {},
    {"MAX_WORD_LENGTH": "abc", "GUNICORN_KEEPALIVE": "0"},  # a bad setting: reported by on_starting, not on import
    {"GUNICORN_WORKER_CONNECTIONS": "100000"},  # more open files than a low hard limit allows
], ids=["defaults", "bad-settings", "many-connections"])
def test_importing_the_config_changes_nothing(quiet_process, monkeypatch, environ):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    environment, limit = dict(os.environ), resource.getrlimit(resource.RLIMIT_NOFILE)

    config = _import_config(f"gunicorn_conf_{len(environ)}")  # an exit at import would raise SystemExit here

    assert dict(os.environ) == environment
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == limit
    assert list(quiet_process.iterdir()) == [], "nothing created in the temp or working directory"
    assert config.workers >= 1 and config.wsgi_app == "mirror_service:create_app()"
    if "MAX_WORD_LENGTH" in environ:
        assert "MAX_WORD_LENGTH" in config._STARTUP_PROBLEM and config.loglevel == "critical"


def test_on_starting_stops_on_a_bad_setting_with_exit_code_2(quiet_process, monkeypatch, capsys):
    monkeypatch.setenv("GUNICORN_KEEPALIVE", "0")
    config = _import_config("gunicorn_conf_bad")

    with pytest.raises(SystemExit) as stopped:
        config.on_starting(server=None)

    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("configuration error: GUNICORN_KEEPALIVE must be at least 1")
    assert list(quiet_process.iterdir()) == []


def test_on_starting_prepares_the_metrics_directory_the_workers_inherit(quiet_process, monkeypatch):
    metrics = quiet_process / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))  # restored after the test
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # on_starting chooses it again
    config = _import_config("gunicorn_conf_metrics")
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"from an earlier run")

    config.on_starting(server=None)

    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics)
    assert list(metrics.iterdir()) == [], "an earlier run's metric files are not counted"
    assert values.ValueClass is not values.MutexValue, "prometheus_client in multiprocess mode"
