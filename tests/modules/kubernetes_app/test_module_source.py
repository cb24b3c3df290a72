"""Static checks of modules/kubernetes-app (python-hcl2): how its files divide the work, and what cannot be
planned here because the helm provider is not installable, checked in the source instead."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from harness import terraform
from tests.modules.kubernetes_app.rendering import MODULE_DIR

SECRET_VARIABLES = {"upload_token", "s3_access_key_id", "s3_secret_access_key", "image_pull_credentials"}
TERRAFORM_DIRS = [MODULE_DIR, MODULE_DIR / "examples" / "minikube"]
# The files test_terraform_to_chart.py applies offline: everything helm_release receives is computed here.
PROVIDER_FREE_FILES = ("variables.tf", "values.tf", "secrets.tf")


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


def _resource(resource_type: str) -> dict:
    found = [body for block in _load(MODULE_DIR / "main.tf").get("resource", [])
             for kind, named in block.items() if _unquote(kind) == resource_type
             for body in named.values()]
    assert len(found) == 1, f"expected one {resource_type} in main.tf"
    return found[0]


def _helm_release() -> dict:
    return _resource("helm_release")


def _locals(path: Path) -> dict:
    return {k: v for block in _load(path)["locals"] for k, v in block.items()}


@pytest.mark.parametrize("directory", TERRAFORM_DIRS, ids=lambda d: str(d.relative_to(MODULE_DIR.parent)))
def test_terraform_fmt_is_clean(directory):
    result = subprocess.run(["terraform", "fmt", "-check", "-diff", "-recursive", str(directory)], capture_output=True,
                            text=True, env=terraform.terraform_env(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_installs_the_bundled_chart_with_the_computed_values_and_secrets():
    release = _helm_release()
    assert release["chart"] == "${local.chart_dir}"
    assert _unquote(_locals(MODULE_DIR / "values.tf")["chart_dir"]) == "${path.module}/chart"
    assert release["values"] == ["${local.values_yaml}"]
    assert release["set_sensitive"] == "${local.secret_values}"
    for knob in ("atomic", "wait", "timeout", "cleanup_on_fail", "max_history", "namespace"):
        assert knob in release, knob
    assert "set" not in release and "set_wo" not in release


def test_a_namespace_the_module_creates_enforces_pod_security_restricted():
    """Helm's create_namespace makes an unlabelled namespace, where "restricted" is promised but not enforced:
    the module creates it itself, labelled, and Helm never creates one. (Pod Security admission reads these
    labels: https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces)"""
    release = _helm_release()
    assert release["create_namespace"] is False
    assert release["namespace"] == "${var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : " \
                                   "var.namespace}"
    namespace = _resource("kubernetes_namespace_v1")
    assert namespace["count"] == "${var.create_namespace ? 1 : 0}"
    (metadata,) = namespace["metadata"]
    assert metadata["name"] == "${var.namespace}"
    assert {_unquote(key): _unquote(value) for key, value in metadata["labels"].items()} == {
        f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def test_every_input_is_declared_once_and_computed_without_providers():
    """One declaration per input (variables.tf, no submodule re-declaring them); values.tf and secrets.tf hold
    nothing that needs a provider, so the offline tests apply exactly what helm_release receives."""
    assert not _blocks(MODULE_DIR, "module"), "a submodule would need the inputs declared a second time"
    assert [path.name for path in MODULE_DIR.glob("*.tf") if _load(path).get("variable")] == ["variables.tf"]
    for name in PROVIDER_FREE_FILES:
        parsed = _load(MODULE_DIR / name)
        assert not set(parsed) & {"resource", "data", "provider", "module", "terraform"}, name
    used = "".join((MODULE_DIR / name).read_text() for name in ("values.tf", "secrets.tf", "main.tf", "outputs.tf"))
    unused = {name for name in _blocks(MODULE_DIR, "variable") if f"var.{name}" not in used}
    assert not unused, f"inputs nothing reads: {unused}"


def test_secret_inputs_are_sensitive_and_read_by_secrets_tf_only():
    variables = _blocks(MODULE_DIR, "variable")
    for name in SECRET_VARIABLES:
        assert variables[name].get("sensitive") is True, name
        assert variables[name].get("default") is None, name
    entries = _locals(MODULE_DIR / "secrets.tf")["secret_values"]
    assert all(_unquote(entry["type"]) == "string" for entry in entries)
    assert {_unquote(entry["name"]) for entry in entries} == {
        "secrets.uploadToken", "secrets.awsAccessKeyId", "secrets.awsSecretAccessKey",
        "secrets.registryServer", "secrets.registryUsername", "secrets.registryPassword"}
    for path in MODULE_DIR.glob("*.tf"):
        if path.name in ("secrets.tf", "variables.tf"):
            continue
        for name in SECRET_VARIABLES:
            assert f"var.{name}" not in path.read_text(), f"var.{name} is read in {path.name}"
    outputs_text = (MODULE_DIR / "outputs.tf").read_text()
    assert "secret_values" not in outputs_text and "image_pull_credentials" not in outputs_text
    # Outputs read only non-secret attributes of the release (never metadata.values or the manifest).
    for name, output in _blocks(MODULE_DIR, "output").items():
        assert "sensitive" not in output, name
        assert not re.search(r"metadata\.values|\.manifest|set_sensitive", str(output["value"])), name


def test_no_provider_blocks_and_pinned_providers():
    for path in MODULE_DIR.glob("*.tf"):
        assert "provider" not in _load(path), f"{path} configures a provider; the caller does that"
    module_terraform = _load(MODULE_DIR / "versions.tf")["terraform"][0]
    assert _unquote(module_terraform["required_version"]) == ">= 1.10"
    helm = module_terraform["required_providers"][0]["helm"]
    assert (_unquote(helm["source"]), _unquote(helm["version"])) == ("hashicorp/helm", "~> 3.1")
    kubernetes = module_terraform["required_providers"][0]["kubernetes"]
    assert (_unquote(kubernetes["source"]), _unquote(kubernetes["version"])) == ("hashicorp/kubernetes", ">= 2.38, < 4.0")
    assert set(module_terraform["required_providers"][0]) - {"__comments__", "__is_block__"} == {"helm", "kubernetes"}


def test_validation_messages_say_what_to_do():
    for name, variable in _blocks(MODULE_DIR, "variable").items():
        for validation in variable.get("validation", []):
            message = _unquote(validation["error_message"])
            assert len(message) > 25 and name in message, (name, message)


def test_every_input_and_output_is_described():
    for kind in ("variable", "output"):
        for name, body in _blocks(MODULE_DIR, kind).items():
            assert len(_unquote(body.get("description", ""))) > 10, f"{kind} {name}"


def test_readme_carries_the_generated_docs_markers():
    text = (MODULE_DIR / "README.md").read_text()
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
