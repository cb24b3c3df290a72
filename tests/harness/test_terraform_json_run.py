"""harness.terraform.JsonRun: what `make sandbox` and `make bench` read from a running `terraform -json`.

A root with built-in resources only (terraform_data, no provider to install or start), so these run in
seconds: a resource that finishes at once, one that is still running (a local-exec sleep), and a
failure whose message must come back as Terraform wrote it.
"""

from __future__ import annotations

import pytest

from harness import terraform

ROOT = """
variable "hold_seconds" {
  type    = number
  default = 0
}

resource "terraform_data" "quick" {
  input = "quick"
}

resource "terraform_data" "slow" {
  input = terraform_data.quick.output

  provisioner "local-exec" {
    command = "sleep ${var.hold_seconds}"
  }
}

resource "terraform_data" "checked" {
  input = var.hold_seconds

  lifecycle {
    precondition {
      condition     = var.hold_seconds < 100
      error_message = "hold_seconds must stay under 100."
    }
  }
}
"""


@pytest.fixture
def root(tmp_path):
    (tmp_path / "main.tf").write_text(ROOT)
    terraform.run(["init", "-input=false", "-no-color"], cwd=tmp_path, env=terraform.terraform_env())
    return tmp_path


def _apply(root, *args: str) -> terraform.JsonRun:
    return terraform.JsonRun(["apply", "-input=false", "-no-color", "-auto-approve", *args], cwd=root,
                             env=terraform.terraform_env())


def test_resources_are_seen_finishing_while_the_run_goes_on(root):
    run = _apply(root, "-var=hold_seconds=5")
    try:
        assert run.wait_for(lambda r: "terraform_data.slow" in r.started(), timeout=30)
        assert "terraform_data.quick" in run.completed()
        assert "terraform_data.slow" not in run.completed(), "the slow resource cannot be done yet"
        assert run.process.poll() is None
    finally:
        assert run.wait(timeout=60) == 0
    completed = run.completed()
    assert set(completed) == {"terraform_data.quick", "terraform_data.slow", "terraform_data.checked"}
    assert completed["terraform_data.slow"]["elapsed_seconds"] >= 4


def test_a_failed_run_raises_with_terraforms_own_message(root):
    run = _apply(root, "-var=hold_seconds=150")
    assert not run.wait_for(lambda r: "terraform_data.checked" in r.completed(), timeout=60)
    with pytest.raises(RuntimeError, match="hold_seconds must stay under 100"):
        run.wait(timeout=60)
    assert any("Resource precondition failed" in error for error in run.errors())


def test_interrupt_stops_terraform_and_keeps_what_it_finished(root):
    run = _apply(root, "-var=hold_seconds=60")
    assert run.wait_for(lambda r: "terraform_data.slow" in r.started(), timeout=30)
    run.interrupt(grace=30)
    assert run.process.returncode != 0
    assert "terraform_data.slow" not in run.completed()
    state = terraform.run(["state", "list"], cwd=root, env=terraform.terraform_env()).stdout.split()
    assert "terraform_data.quick" in state
