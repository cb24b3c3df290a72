# tflint (built by `make tools`, pinned in tools/tflint/go.mod) with the AWS ruleset (tools/tflint-ruleset-aws,
# built into the plugin directory the harness passes as TFLINT_PLUGIN_DIR, so no `tflint --init` download).
# `make lint-tflint` runs it over every directory that holds Terraform, modules, roots and examples alike.

config {
  # Module calls with local sources (`../..`, `../../modules/x`) are inspected with their callers' values,
  # so a wrong argument in an env is caught where it is passed; git and registry sources are not fetched.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}

plugin "aws" {
  enabled = true
  # Keep equal to the require line of tools/tflint-ruleset-aws/go.mod (tests/ci/test_lint.py checks it).
  version = "0.36.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
