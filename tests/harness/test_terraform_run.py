"""A Terraform run that times out is interrupted as by Ctrl-C, never killed (issue #19: `make e2e` and locks).

subprocess.run kills its child on a timeout; Terraform killed mid-apply leaves the S3 state lock (.tflock)
held and its state unwritten. harness.terraform.run sends SIGINT and waits, so Terraform writes its state
and releases the lock. A stand-in `terraform` on PATH records what it received.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from harness import terraform

STAND_IN = """#!/usr/bin/env python3
import pathlib, signal, sys, time
log = pathlib.Path(sys.argv[0]).with_name("signals.log")
def interrupted(*_):
    time.sleep(0.5)  # the resource operation under way finishes, the state is written
    log.write_text("SIGINT: state written, lock released")
    sys.exit(1)
signal.signal(signal.SIGINT, interrupted)
time.sleep(60)
"""


def test_a_timed_out_run_interrupts_terraform_and_lets_it_release_the_lock(tmp_path):
    stand_in = tmp_path / "terraform"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        # 5 s: the stand-in (a Python process) must have set its handler before the timeout, also on a busy machine.
        terraform.run(["apply", "-auto-approve"], cwd=tmp_path, env=env, timeout=5, grace=30)
    assert (tmp_path / "signals.log").read_text() == "SIGINT: state written, lock released"
    assert time.monotonic() - started < 20, "it waited for Terraform to stop, not for the whole grace period"


def test_e2e_tests_get_a_timeout_that_fits_a_real_apply_and_destroy():
    from tests.e2e import test_kubernetes_environments as environments

    [timeout] = [mark for mark in environments.pytestmark if mark.name == "timeout"]
    assert timeout.args[0] >= 900 + 3600 + 900 + 3600, "shorter than the run's own Terraform timeouts"
    assert timeout.kwargs["method"] == "signal", "the thread method exits without running `finally` (the destroy)"
