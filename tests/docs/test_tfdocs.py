"""harness/tfdocs.py: the README tables are current, staleness is caught, and the tables are the ones
terraform-docs (markdown table, `--lockfile=false`) prints for the same module."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from harness import tfdocs

REPO_ROOT = tfdocs.REPO_ROOT


# ----------------------------------------------------------------------------------------------------
# The repository's READMEs
# ----------------------------------------------------------------------------------------------------


def test_every_generated_readme_is_up_to_date():
    directories = tfdocs.discover()
    covered = {directory.relative_to(REPO_ROOT).as_posix() for directory in directories}
    # Every root and module a team applies or consumes is covered, the environments included.
    assert {"envs/aws", "envs/bootstrap", "envs/local", "envs/sandbox", "modules/eks", "modules/kubernetes-app",
            "modules/s3-staging"} <= covered
    problems = tfdocs.check(directories)
    if problems:
        pytest.fail("README tables are out of date with the Terraform code; run `make docs` and commit the result:\n\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture
def root_copy(tmp_path) -> Path:
    """A private copy of envs/sandbox (a root whose README carries a generated block), made current."""
    copy = tmp_path / "envs" / "sandbox"
    shutil.copytree(REPO_ROOT / "envs" / "sandbox", copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    tfdocs.write([copy])
    assert tfdocs.check([copy], root=tmp_path) == []
    return copy


def test_a_changed_description_makes_the_readme_stale_until_it_is_regenerated(root_copy, tmp_path):
    variables = root_copy / "variables.tf"
    text = variables.read_text()
    literal = tfdocs.attribute_source(text, "variable", "bucket_name", "description")
    assert literal and text.count(literal) == 1
    variables.write_text(text.replace(literal, '"Renamed: the emulator bucket_name."'))
    readme_before = (root_copy / "README.md").read_text()

    problems = tfdocs.check([root_copy], root=tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("envs/sandbox/README.md is out of date; run `make docs`")
    row = '| <a name="input_bucket_name"></a> [bucket\\_name](#input\\_bucket\\_name) | '
    assert "\n-" + row in problems[0]
    assert "\n+" + row + "Renamed: the emulator bucket\\_name. |" in problems[0]
    assert (root_copy / "README.md").read_text() == readme_before, "check must not change anything"

    assert tfdocs.write([root_copy]) == [root_copy]
    assert tfdocs.check([root_copy], root=tmp_path) == []
    readme = (root_copy / "README.md").read_text()
    assert "| Renamed: the emulator bucket\\_name. | `string` |" in readme
    # Only the generated block changes: the hand-written part before it is kept byte for byte.
    assert readme.split(tfdocs.BEGIN)[0] == readme_before.split(tfdocs.BEGIN)[0]
    assert readme.rstrip("\n").endswith(tfdocs.END)


def test_a_missing_readme_or_one_without_markers_is_reported(root_copy, tmp_path):
    readme = root_copy / "README.md"
    readme.write_text("# sandbox\n\nNo generated block here.\n")
    assert tfdocs.check([root_copy], root=tmp_path) == [
        f"envs/sandbox/README.md has no {tfdocs.BEGIN} ... {tfdocs.END} block; run `make docs`"
    ]
    tfdocs.write([root_copy])
    block_start = "\n\n" + tfdocs.BEGIN + "\n## Requirements\n"
    assert readme.read_text().startswith("# sandbox\n\nNo generated block here." + block_start)
    assert tfdocs.check([root_copy], root=tmp_path) == []

    readme.unlink()
    (problem,) = tfdocs.check([root_copy], root=tmp_path)
    assert problem.startswith("envs/sandbox/README.md is missing; run `make docs`")
    assert tfdocs.main(["--check", str(root_copy)]) == 1
    assert tfdocs.main(["--write", str(root_copy)]) == 0
    assert readme.read_text().startswith("# sandbox" + block_start)
    assert tfdocs.main(["--check", str(root_copy)]) == 0


# ----------------------------------------------------------------------------------------------------
# The tables themselves, on a small module
# ----------------------------------------------------------------------------------------------------

FIXTURE = {
    "versions.tf": """
        terraform {
          required_version = ">= 1.10"

          required_providers {
            random = {
              source  = "hashicorp/random"
              version = "3.6.3"
            }
            aws = {
              source  = "hashicorp/aws"
              version = ">= 5.100, < 7.0"
            }
          }
        }
    """,
    "variables.tf": """
        variable "zone_name" {
          description = "Name of the DNS zone."
          type        = string
        }

        variable "settings" {
          description = "Retention and labels of the zone_records; see `retention_days`."
          type = object({
            retention_days = optional(number, 30)
            labels         = optional(map(string), {})
          })
          default = {
            retention_days = 7
            labels = {
              team = "platform"
              env  = "dev"
            }
          }
        }

        variable "enabled" {
          default = true
        }
    """,
    "main.tf": """
        resource "random_id" "key" {
          byte_length = 16
        }

        resource "aws_route53_zone" "this" {
          name = var.zone_name
        }

        resource "aws_route53_record" "www" {
          provider = aws.replica
          zone_id  = aws_route53_zone.this.zone_id
          name     = "www"
          type     = "A"
        }

        data "aws_partition" "current" {}

        data "aws_caller_identity" "current" {}

        module "labels" {
          source = "git::https://example.com/platform/labels.git?ref=v1.2.0"
        }

        module "bucket" {
          source  = "terraform-aws-modules/s3-bucket/aws"
          version = "~> 5.0"
        }

        module "child" {
          source = "./modules/child"
        }
    """,
    "outputs.tf": """
        output "zone_id" {
          description = "ID of the zone."
          value       = aws_route53_zone.this.zone_id
        }

        output "api_key" {
          description = "Generated key, hex encoded."
          value       = random_id.key.hex
          sensitive   = true
        }
    """,
}

EXPECTED = r"""## Requirements

| Name | Version |
|------|---------|
| <a name="requirement_terraform"></a> [terraform](#requirement\_terraform) | >= 1.10 |
| <a name="requirement_aws"></a> [aws](#requirement\_aws) | >= 5.100, < 7.0 |
| <a name="requirement_random"></a> [random](#requirement\_random) | 3.6.3 |

## Providers

| Name | Version |
|------|---------|
| <a name="provider_aws"></a> [aws](#provider\_aws) | >= 5.100, < 7.0 |
| <a name="provider_aws.replica"></a> [aws.replica](#provider\_aws.replica) | >= 5.100, < 7.0 |
| <a name="provider_random"></a> [random](#provider\_random) | 3.6.3 |

## Modules

| Name | Source | Version |
|------|--------|---------|
| <a name="module_bucket"></a> [bucket](#module\_bucket) | terraform-aws-modules/s3-bucket/aws | ~> 5.0 |
| <a name="module_child"></a> [child](#module\_child) | ./modules/child | n/a |
| <a name="module_labels"></a> [labels](#module\_labels) | git::https://example.com/platform/labels.git | v1.2.0 |

## Resources

| Name | Type |
|------|------|
| [aws_route53_record.www](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/route53_record) | resource |
| [aws_route53_zone.this](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/route53_zone) | resource |
| [random_id.key](https://registry.terraform.io/providers/hashicorp/random/3.6.3/docs/resources/id) | resource |
| [aws_caller_identity.current](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/caller_identity) | data source |
| [aws_partition.current](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/partition) | data source |

## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| <a name="input_enabled"></a> [enabled](#input\_enabled) | n/a | `bool` | `true` | no |
| <a name="input_settings"></a> [settings](#input\_settings) | Retention and labels of the zone\_records; see `retention_days`. | <pre>object({<br/>    retention_days = optional(number, 30)<br/>    labels         = optional(map(string), {})<br/>  })</pre> | <pre>{<br/>  "labels": {<br/>    "env": "dev",<br/>    "team": "platform"<br/>  },<br/>  "retention_days": 7<br/>}</pre> | no |
| <a name="input_zone_name"></a> [zone\_name](#input\_zone\_name) | Name of the DNS zone. | `string` | n/a | yes |

## Outputs

| Name | Description |
|------|-------------|
| <a name="output_api_key"></a> [api\_key](#output\_api\_key) | Generated key, hex encoded. |
| <a name="output_zone_id"></a> [zone\_id](#output\_zone\_id) | ID of the zone. |
"""


def _write_module(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return directory


def test_fixture_module_renders_exactly_as_terraform_docs(tmp_path):
    module = _write_module(tmp_path / "fixture", FIXTURE)
    rendered = tfdocs.render(tfdocs.load_module(module))
    # Row by row first, so a failure names the row; then the whole block (section order, blank lines).
    assert rendered.splitlines() == EXPECTED.splitlines()
    assert rendered == EXPECTED


def test_empty_sections_say_so(tmp_path):
    module = _write_module(tmp_path / "empty", {"main.tf": 'locals {\n  x = 1\n}\n'})
    assert tfdocs.render(tfdocs.load_module(module)) == (
        "## Requirements\n\nNo requirements.\n\n## Providers\n\nNo providers.\n\n## Modules\n\nNo modules.\n\n"
        "## Resources\n\nNo resources.\n\n## Inputs\n\nNo inputs.\n\n## Outputs\n\nNo outputs.\n"
    )


@pytest.mark.parametrize(
    ("description", "cell"),
    [
        # `_` escaped outside code spans (terraform-docs' `escape: true`), never inside them
        ("Sets UPLOAD_TOKEN, see `S3_BUCKET`.", "Sets UPLOAD\\_TOKEN, see `S3_BUCKET`."),
        # ... except the delimiters of an _emphasis_ between spaces
        ("An _emphasised_ word and a snake_case one.", "An _emphasised_ word and a snake\\_case one."),
        # ... and inside URLs, which are put back as written
        ("Docs: https://example.com/a_b/c_d for more_info.", "Docs: https://example.com/a_b/c_d for more\\_info."),
        # pipes escaped outside code spans
        ("Either a | b, or `c|d`.", "Either a \\| b, or `c|d`."),
        # line breaks as <br/>, paragraphs as two
        ("First line\nsecond line\n\n- a list item", "First line<br/>second line<br/><br/>- a list item"),
        # fenced code as <pre>
        ("Example:\n```\nx = 1\ny = 2\n```", "Example:<pre>x = 1<br/>y = 2</pre>"),
        # surrounding whitespace trimmed; an empty description is n/a
        ("  padded  \n", "padded"),
        ("", "n/a"),
    ],
)
def test_descriptions_are_sanitised_like_terraform_docs(tmp_path, description, cell):
    # json.dumps gives a valid HCL string literal for these (\n and \" escapes mean the same in both).
    module = _write_module(tmp_path / "one", {
        "variables.tf": f'variable "x" {{\n  description = {json.dumps(description)}\n  type = string\n}}\n',
        "outputs.tf": f'output "y" {{\n  description = {json.dumps(description)}\n  value = var.x\n}}\n',
    })
    lines = tfdocs.render(tfdocs.load_module(module)).splitlines()
    assert f'| <a name="input_x"></a> [x](#input\\_x) | {cell} | `string` | n/a | yes |' in lines
    assert f'| <a name="output_y"></a> [y](#output\\_y) | {cell} |' in lines
