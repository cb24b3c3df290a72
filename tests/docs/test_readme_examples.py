"""Every HCL example in a README is run: `terraform init` + `validate` at least, applied on the emulator where it can be.

The convention (cloud-foundation-fabric's `# tftest` lines): each ```hcl block of a tracked README.md carries one
comment line naming what runs it,

    # tftest: <mode> [fixtures=<file>,...] [target=<address>]

- `validate`: the block is the main.tf of a fresh root; `terraform init -backend=false` + `validate`, by the
  runner `make validate` uses (harness/validate.py, through harness/terraform.py, with the providers it
  installs), all the examples side by side;
- `apply`: the same root applied on the session's moto server (`terraform_copy`: destroyed in teardown even when
  the test fails), optionally only `-target=<address>`, then read back through boto3;
- `backend-config`: the block is a `*.s3.tfbackend` file: a root with the partial S3 backend takes it with
  `terraform init -backend-config=...` (plus the emulator's endpoint) and applies, so the state lands in a bucket.

`fixtures=` names files from tests/docs/fixtures/ added to the root for what the example reads but does not
declare (`var.upload_token`, `module.staging_bucket`, `aws_kms_key.staging`). A block without a marker fails
test_every_hcl_example_names_how_it_is_run, so an example cannot be added without a test running it.

Module sources are rewritten to the checkout's modules: a `git::https://…//modules/<name>?ref=<tag>` source (the
way teams consume them) and a relative `../../modules/<name>` (or a fixture's `./modules/<name>`) point at a copy
of this checkout's modules/. So what is validated is the module as it is in this commit, not the tag the example pins;
tests/modules/s3_staging/test_git_source.py and tests/envs/test_validate.py cover consumption through `git::`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import terraform, validate
from harness.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # about a minute of init, validate and apply: tests/conftest.py starts it first

FIXTURES = Path(__file__).parent / "fixtures"
WITHOUT_LIFECYCLE = REPO_ROOT / "tests" / "fixtures" / "s3_staging_without_lifecycle_override.tf"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
HCL = {"hcl", "terraform", "tf"}
MARKER = re.compile(r"^\s*# tftest: (?P<mode>validate|apply|backend-config)(?P<options>(?: \w+=\S+)*)\s*$", re.MULTILINE)
MODULE_SOURCE = re.compile(r'"(?:git::[^"]*//|(?:\.\./)+|\./)modules/([\w-]+)(?:\?ref=[^"]*)?"')


@dataclass(frozen=True)
class Example:
    readme: str  # path from the repository root
    line: int
    text: str

    @property
    def marker(self) -> re.Match | None:
        return MARKER.search(self.text)

    def option(self, name: str) -> list[str]:
        found = re.search(rf"\b{name}=(\S+)", self.marker["options"]) if self.marker else None
        return found.group(1).split(",") if found else []

    def __str__(self) -> str:
        return f"{self.readme}:{self.line}"


def _examples() -> list[Example]:
    readmes = subprocess.run(["git", "ls-files", "*README.md"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    found = []
    for readme in readmes:
        text = (REPO_ROOT / readme).read_text()
        for fence in FENCE.finditer(text):
            if fence["info"] in HCL:
                body = "\n".join(line.removeprefix(fence["indent"]) for line in fence["body"].splitlines()) + "\n"
                found.append(Example(readme, text.count("\n", 0, fence.start()) + 1, body))
    return found


EXAMPLES = _examples()


def _root(example: Example, directory: Path, modules: str) -> Path:
    """The example as main.tf of a fresh root with its fixtures, its module sources pointing at `modules`."""
    directory.mkdir(parents=True)
    for name, text in (("main.tf", example.text), *((name, (FIXTURES / name).read_text())
                                                      for name in example.option("fixtures"))):
        (directory / name).write_text(MODULE_SOURCE.sub(rf'"{modules}\1"', text))
    return directory


def test_the_readmes_have_hcl_examples_to_run():
    """Discovery must not silently lose them: the module READMEs' and the root README's examples are found."""
    assert {"README.md", "modules/s3-staging/README.md", "modules/eks/README.md",
            "modules/kubernetes-app/README.md"} <= {example.readme for example in EXAMPLES}


def test_every_hcl_example_names_how_it_is_run():
    unmarked = [str(example) for example in EXAMPLES if len(MARKER.findall(example.text)) != 1]
    assert not unmarked, ("README HCL blocks without exactly one `# tftest: validate|apply|backend-config` line "
                          f"(tests/docs/test_readme_examples.py says how they are run): {unmarked}")
    missing = [f"{example}: {name}" for example in EXAMPLES for name in example.option("fixtures")
               if not (FIXTURES / name).is_file()]
    assert not missing, f"fixtures named by README examples that tests/docs/fixtures/ does not have: {missing}"


VALIDATED = [example for example in EXAMPLES if example.marker and example.marker["mode"] == "validate"]


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> dict[str, validate.Result]:
    """Every `validate` example as envs/readme-<n> of a scratch repository beside a copy of modules/, validated side
    by side as `make validate` validates the checkout's roots."""
    repo = tmp_path_factory.mktemp("readme-examples")
    terraform.copy_root(REPO_ROOT / "modules", repo / "modules")
    roots = {f"envs/readme-{index}": example for index, example in enumerate(VALIDATED)}
    for root, example in roots.items():
        _root(example, repo / root, "../../modules/")
    results = validate.validate_all(list(roots), tmp_path_factory.mktemp("validate"), repo=repo)
    return {str(roots[result.root]): result for result in results}


@pytest.mark.parametrize("example", VALIDATED, ids=str)
def test_example_initialises_and_validates(example, validated):
    result = validated[str(example)]
    assert result.ok, f"{example} does not validate:\n{result.output}"


APPLIED = [example for example in EXAMPLES if example.marker and example.marker["mode"] == "apply"]


@pytest.mark.parametrize("example", APPLIED, ids=str)
def test_example_applies_on_the_emulator(example, tmp_path, terraform_copy, aws_client):
    """`init` + `validate`, then applied as written (its bucket name and settings), on moto; the bucket read back; destroyed in teardown.
    The AWS provider's ~55 s lifecycle waiter is left out here (tests/fixtures/s3_staging_without_lifecycle_override.tf
    in the module copy): tests/modules/s3_staging/test_complete_example.py applies the lifecycle rules."""
    root = _root(example, tmp_path / "source", "./modules/")
    terraform.copy_root(REPO_ROOT / "modules", root / "modules")
    (root / "modules" / "s3-staging" / WITHOUT_LIFECYCLE.name).write_text(WITHOUT_LIFECYCLE.read_text())
    tf = terraform_copy(root, name="example")  # init
    targets = [f"-target={target}" for target in example.option("target")]

    tf.execute_command("validate", "-no-color")
    tf.execute_command("apply", "-input=false", "-no-color", "-auto-approve", *targets)

    s3 = aws_client("s3")
    buckets = re.findall(r'bucket_name\s*=\s*"([^"]+)"', example.text)
    assert buckets, f"{example}: no literal bucket_name to read back"
    for bucket in buckets:
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == (
            "aws:kms" if "kms_key_arn" in example.text else "AES256")
    tf.execute_command("destroy", "-input=false", "-no-color", "-auto-approve", *targets)
    assert not set(buckets) & {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    # Destroyed: the data sources left in the state must not make the teardown destroy a second time.
    Path(tf.tfdir, "terraform.tfstate").unlink()


BACKENDS = [example for example in EXAMPLES if example.marker and example.marker["mode"] == "backend-config"]


@pytest.mark.parametrize("example", BACKENDS, ids=str)
def test_backend_settings_put_the_state_in_their_bucket(example, tmp_path, terraform_copy, aws_client, aws_env):
    """The settings file as written, plus only the emulator's endpoint: init, an apply, the state in the bucket."""
    settings = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', example.text, re.MULTILINE))
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=settings["bucket"], CreateBucketConfiguration={"LocationConstraint": settings["region"]})
    root = _root(example, tmp_path / "source", "./modules/")
    (root / "main.tf").rename(root / "example.s3.tfbackend")  # the block is the settings file, not Terraform code
    tf = terraform_copy(root, emulator=False, env=aws_env, name="backend", init=False)
    emulator = [f"-backend-config={setting}" for setting in (
        f'endpoints={{s3="{aws_env["AWS_ENDPOINT_URL"]}"}}', "use_path_style=true", "skip_credentials_validation=true",
        "skip_requesting_account_id=true", "skip_metadata_api_check=true")]
    try:
        tf.execute_command("init", "-input=false", "-no-color", "-backend-config=example.s3.tfbackend", *emulator)
        tf.execute_command("apply", "-input=false", "-no-color", "-auto-approve")

        state = s3.head_object(Bucket=settings["bucket"], Key=settings["key"])
        assert state["ServerSideEncryption"] == "AES256"
    finally:
        for version in s3.list_object_versions(Bucket=settings["bucket"]).get("Versions", []):
            s3.delete_object(Bucket=settings["bucket"], Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=settings["bucket"])
