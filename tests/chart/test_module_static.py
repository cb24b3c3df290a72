"""Static checks of modules/kubernetes-app (python-hcl2): what cannot be planned here because the helm provider
is not installable, checked in the source instead."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from harness import terraform
from tests.chart.support import MODULE_DIR, VALUES_MODULE_DIR

SECRET_VARIABLES = {"upload_token", "s3_access_key_id", "s3_secret_access_key"}
TERRAFORM_DIRS = [MODULE_DIR, VALUES_MODULE_DIR, MODULE_DIR / "examples" / "minikube"]


@functools.cache
def _load(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def _unquote(value):
    return value[1:-1] if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' else value


def _blocks(directory: Path, kind: str) -> dict[str, dict]:
    """`kind` blocks (variable, output, module, ...) of every .tf file in `directory`, by name."""
    found = {}
    for path in sorted(directory.glob("*.tf")):
        for block in _load(path).get(kind, []):
            for name, body in block.items():
                found[_unquote(name)] = body
    return found


def _strip_comments(body):
    if isinstance(body, dict):
        return {k: _strip_comments(v) for k, v in body.items() if k not in ("__comments__", "__inline_comments__")}
    if isinstance(body, list):
        return [_strip_comments(item) for item in body]
    return body


def _helm_release() -> dict:
    releases = [body for block in _load(MODULE_DIR / "main.tf").get("resource", [])
                for resource_type, named in block.items() if _unquote(resource_type) == "helm_release"
                for body in named.values()]
    assert len(releases) == 1
    return releases[0]


def _locals() -> dict:
    return {k: v for block in _load(MODULE_DIR / "main.tf")["locals"] for k, v in block.items()}


@pytest.mark.parametrize("directory", TERRAFORM_DIRS, ids=lambda d: str(d.relative_to(MODULE_DIR.parent)))
def test_terraform_fmt_is_clean(directory):
    result = subprocess.run(["terraform", "fmt", "-check", "-diff", "-recursive", str(directory)], capture_output=True,
                            text=True, env=terraform.terraform_env(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_installs_the_bundled_chart_with_the_values_module_output():
    release = _helm_release()
    chart = release["chart"]
    if chart == "${local.chart_dir}":
        chart = _unquote(_locals()["chart_dir"])
    assert _unquote(chart) == "${path.module}/chart"
    assert release["values"] == ["${module.values.values_yaml}"]
    assert _blocks(MODULE_DIR, "module")["values"]["source"] == '"./modules/values"'
    assert _blocks(MODULE_DIR, "module")["values"]["chart_dir"] == "${local.chart_dir}"
    for knob in ("atomic", "wait", "timeout", "cleanup_on_fail", "max_history", "create_namespace", "namespace"):
        assert knob in release, knob
    assert "set" not in release and "set_wo" not in release


def test_secrets_go_to_helm_through_set_sensitive_only():
    release = _helm_release()
    assert release["set_sensitive"] == "${local.secret_values}"
    entries = _locals()["secret_values"]
    referenced = {re.search(r"var\.(\w+)", entry["value"]).group(1) for entry in entries}
    assert referenced == SECRET_VARIABLES
    assert all(_unquote(entry["type"]) == "string" for entry in entries)
    assert {_unquote(entry["name"]) for entry in entries} == {
        "secrets.uploadToken", "secrets.awsAccessKeyId", "secrets.awsSecretAccessKey"}


def test_secret_variables_are_sensitive_and_nowhere_else():
    variables = _blocks(MODULE_DIR, "variable")
    for name in SECRET_VARIABLES:
        assert variables[name].get("sensitive") is True, name
        assert variables[name].get("default") is None, name
    main_text = (MODULE_DIR / "main.tf").read_text()
    secret_values_start = main_text.index("secret_values = [")
    secret_values_end = main_text.index("]\n", secret_values_start)
    outside = main_text[:secret_values_start] + main_text[secret_values_end:]
    for name in SECRET_VARIABLES:
        assert f"var.{name}" not in outside, f"var.{name} is used outside local.secret_values"
        assert f"var.{name}" not in (MODULE_DIR / "outputs.tf").read_text()
        for path in VALUES_MODULE_DIR.glob("*.tf"):
            assert f"var.{name}" not in path.read_text(), f"{name} reaches the values module ({path.name})"
    assert "secret_values" not in (MODULE_DIR / "outputs.tf").read_text()
    # Outputs read only non-secret attributes of the release (never metadata.values or the manifest).
    for name, output in _blocks(MODULE_DIR, "output").items():
        assert "sensitive" not in output, name
        assert not re.search(r"metadata\.values|\.manifest|set_sensitive", output["value"]), name


def test_no_provider_blocks_and_pinned_providers():
    for directory in (MODULE_DIR, VALUES_MODULE_DIR):
        for path in directory.glob("*.tf"):
            assert "provider" not in _load(path), f"{path} configures a provider; the caller does that"
    module_terraform = _load(MODULE_DIR / "versions.tf")["terraform"][0]
    assert _unquote(module_terraform["required_version"]) == ">= 1.10"
    helm = module_terraform["required_providers"][0]["helm"]
    assert (_unquote(helm["source"]), _unquote(helm["version"])) == ("hashicorp/helm", "~> 3.1")
    assert set(module_terraform["required_providers"][0]) - {"__comments__", "__is_block__"} == {"helm"}
    values_terraform = _load(VALUES_MODULE_DIR / "versions.tf")["terraform"][0]
    assert "required_providers" not in values_terraform, "the values module must work without any provider"
    for path in VALUES_MODULE_DIR.glob("*.tf"):
        parsed = _load(path)
        assert not parsed.get("resource") and not parsed.get("data"), f"{path} needs a provider"


def test_shared_variables_are_declared_identically():
    """The parent re-declares the values module's inputs so errors point at the caller's variable; keep them equal."""
    parent = _blocks(MODULE_DIR, "variable")
    child = _blocks(VALUES_MODULE_DIR, "variable")
    assert set(child) - set(parent) == {"chart_dir"}
    for name in set(child) - {"chart_dir"}:
        assert _strip_comments(parent[name]) == _strip_comments(child[name]), name
    call = _blocks(MODULE_DIR, "module")["values"]
    for name in set(child) - {"chart_dir"}:
        assert call[name] == f"${{var.{name}}}", name


def test_validation_messages_say_what_to_do():
    for directory in (MODULE_DIR, VALUES_MODULE_DIR):
        for name, variable in _blocks(directory, "variable").items():
            for validation in variable.get("validation", []):
                message = _unquote(validation["error_message"])
                assert len(message) > 25 and name in message, (name, message)


def test_every_input_and_output_is_described():
    for directory in TERRAFORM_DIRS[:2]:
        for kind in ("variable", "output"):
            for name, body in _blocks(directory, kind).items():
                assert len(_unquote(body.get("description", ""))) > 10, f"{directory.name} {kind} {name}"


def test_readmes_carry_the_generated_docs_markers():
    for directory in (MODULE_DIR, VALUES_MODULE_DIR):
        text = (directory / "README.md").read_text()
        assert text.index("<!-- BEGIN_TF_DOCS -->") < text.index("<!-- END_TF_DOCS -->")


def test_minikube_example_calls_the_module_with_known_inputs():
    """The example cannot init here (no helm provider); its module call is checked against the variables instead."""
    call = _blocks(MODULE_DIR / "examples" / "minikube", "module")["app"]
    assert _unquote(call["source"]) == "../.."
    variables = _blocks(MODULE_DIR, "variable")
    arguments = {name for name in call if not name.startswith("__") and name != "source"}
    assert arguments <= set(variables), f"unknown inputs: {arguments - set(variables)}"
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= arguments, f"missing required inputs: {required - arguments}"
    example_variables = _blocks(MODULE_DIR / "examples" / "minikube", "variable")
    for name in ("upload_token", "emulator_access_key_id", "emulator_secret_access_key"):
        assert example_variables[name].get("sensitive") is True
        assert "validation" not in example_variables[name], "a root's failing validation prints the value"
