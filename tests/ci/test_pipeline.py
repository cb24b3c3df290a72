"""The GitLab pipeline's shape: GitLab's semantics (gitlab-ci-local --list/--preview), GitLab's own
schema, checkov's CI checks, and the job graph.

GitLab itself cannot run here; gitlab-ci-local parses and expands the file the way GitLab does (it
refused the old file: `cache:key:files` takes at most two files), and the tests below pin down what the
people relying on the pipeline need: nothing is applied that a person did not review as a plan,
nothing is applied unless lint, validate and the whole suite passed, every job is a Makefile target,
and no static cloud key is ever needed. tests/ci/test_pipeline_jobs.py runs the cloud-free jobs.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import ci_local, validate

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_FILE = REPO_ROOT / ".gitlab-ci.yml"
README = REPO_ROOT / "README.md"
KEYWORDS = {"workflow", "stages", "variables", "default", "include"}
# The keywords `default:` can set (https://docs.gitlab.com/ci/yaml/#default).
DEFAULT_KEYWORDS = {"after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens", "image",
                    "interruptible", "retry", "services", "tags"}


def _merge(base: dict, override: dict) -> dict:
    """GitLab's `extends`: hashes merge deeply, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load(PIPELINE_FILE.read_text())


def _with_defaults(job: dict, default: dict) -> dict:
    """GitLab's `default:`: each keyword is copied to a job that does not define it (after `extends`), never
    merged into one that does, and only where `inherit:default` lets it (https://docs.gitlab.com/ci/yaml/#default,
    https://docs.gitlab.com/ci/yaml/#inheritdefault)."""
    inherit = job.get("inherit", {}).get("default", True)
    inherited = DEFAULT_KEYWORDS if inherit is True else set(inherit) if isinstance(inherit, list) else set()
    return {**{key: value for key, value in default.items() if key in inherited}, **job}


@pytest.fixture(scope="module")
def jobs(pipeline) -> dict[str, dict]:
    """Visible jobs as GitLab runs them: `extends` resolved, then `default:` applied."""

    def resolve(name: str) -> dict:
        job = pipeline[name]
        parents = job.get("extends", [])
        resolved: dict = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            resolved = _merge(resolved, resolve(parent))
        return _merge(resolved, {k: v for k, v in job.items() if k != "extends"})

    default = pipeline.get("default", {})
    return {name: _with_defaults(resolve(name), default) for name in pipeline
            if name not in KEYWORDS and not name.startswith(".")}


def _needs(job: dict) -> list[str]:
    return [need if isinstance(need, str) else need["job"] for need in job.get("needs", [])]


def _upstream(jobs: dict, name: str) -> set[str]:
    seen: set[str] = set()
    stack = _needs(jobs[name])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(_needs(jobs[current]))
    return seen


def test_pipeline_matches_gitlab_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci",
         "--regex-variant", "nonunicode", str(PIPELINE_FILE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_gitlab_ci_checks_pass(tmp_path):
    checkov = os.environ.get("CHECKOV_BIN") or str(REPO_ROOT / ".venv-checkov/bin/checkov")
    if not Path(checkov).exists():
        pytest.fail(f"checkov not found at {checkov}; run `make tools`")
    shutil.copy(PIPELINE_FILE, tmp_path / ".gitlab-ci.yml")
    result = subprocess.run(
        [checkov, "--framework", "gitlab_ci", "--skip-download", "-d", str(tmp_path), "-o", "json", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    report = json.loads(result.stdout)
    summary = report.get("summary", report)
    failed = [f"{c['check_id']} {c['check_name']}" for c in report.get("results", {}).get("failed_checks", [])]
    assert summary["passed"] > 0, "checkov parsed no job: the file uses something its parser cannot read"
    assert summary["failed"] == 0, failed


def test_every_job_runs_in_a_declared_stage_and_needs_only_earlier_jobs(pipeline, jobs):
    stages = pipeline["stages"]
    assert stages == ["image", "validate", "test", "build", "plan", "apply"]
    for name, job in jobs.items():
        assert job.get("stage") in stages, f"{name} has no declared stage"
        for needed in _needs(job):
            assert needed in jobs, f"{name} needs {needed}, which does not exist"
            assert stages.index(jobs[needed]["stage"]) <= stages.index(job["stage"]), f"{name} needs a later job"


@pytest.fixture(scope="module")
def clean_repo(tmp_path_factory) -> Path:
    missing = ci_local.missing_tools()
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"gitlab-ci-local needs {', '.join(missing)}")
    return ci_local.clean_copy(tmp_path_factory.mktemp("ci") / "repo")


def test_gitlab_ci_local_lists_every_job_as_gitlab_would(clean_repo):
    listed = ci_local.run(clean_repo, "--list-json")
    assert listed.returncode == 0, listed.output
    on_main = {job["name"]: job for job in listed.json()}
    assert set(on_main) == {"ci-image", "commits", "lint", "validate", "test", "test:privileged", "build", "plan:sandbox",
                            "plan:aws", "apply:aws"}
    assert on_main["apply:aws"]["when"] == "manual"
    assert [need if isinstance(need, str) else need["job"] for need in on_main["apply:aws"]["needs"]] == ["plan:aws"]


def test_gitlab_ci_local_preview_expands_the_templates(clean_repo):
    preview = ci_local.run(clean_repo, "--preview")
    assert preview.returncode == 0, preview.output
    expanded = yaml.safe_load(preview.stdout[preview.stdout.index("---"):])
    plan_aws = expanded["plan:aws"]
    assert plan_aws["script"] == ["make plan ENV=aws"]
    assert plan_aws["artifacts"]["reports"]["terraform"] == "$TF_ROOT/plan.json"
    assert plan_aws["resource_group"] == expanded["apply:aws"]["resource_group"] == "aws"
    # The lock holders' `interruptible: false` survives `extends` as gitlab-ci-local expands it. Its preview
    # copies `default:`'s image, cache and before_script into jobs but not `interruptible` (nor `retry`),
    # so what `default:` does to the other jobs is checked on the `jobs` fixture, which resolves it as GitLab does.
    assert plan_aws["interruptible"] is False and expanded["apply:aws"]["interruptible"] is False


def test_apply_runs_only_a_reviewed_plan_after_lint_validate_and_tests(jobs):
    applies = [name for name in jobs if jobs[name]["stage"] == "apply"]
    assert applies, "the pipeline has no apply job"
    for name in applies:
        job = jobs[name]
        plan_job = name.replace("apply", "plan")
        assert _needs(job) == [plan_job], f"{name} must apply exactly {plan_job}'s artifact"
        assert {"lint", "validate", "test"} <= _upstream(jobs, name), f"{name} can run before validation and tests"
        rules = job["rules"]
        assert all(rule.get("when") == "manual" for rule in rules), f"{name} must be manual"
        assert all("$CI_DEFAULT_BRANCH" in rule["if"] for rule in rules), f"{name} must run on the default branch only"
        assert job["script"] == [f"make apply ENV={name.split(':')[1]}"]
        assert job["resource_group"] == jobs[plan_job]["resource_group"], "plan and apply must serialise on one state"
        assert job["environment"]["action"] == "start" and jobs[plan_job]["environment"]["action"] == "prepare"


def test_jobs_holding_a_state_lock_are_never_interrupted(pipeline, jobs):
    """`auto_cancel: on_new_commit: interruptible` cancels a running job that is interruptible
    (https://docs.gitlab.com/ci/yaml/#workflowauto_cancelon_new_commit, https://docs.gitlab.com/ci/yaml/#interruptible),
    and `default:` makes every job interruptible unless it says otherwise. Terraform killed mid-plan or
    mid-apply leaves the S3 state lock held (and an apply half done): every job that runs Terraform
    against a shared state holds its `resource_group`, and none of those may be interruptible, as GitLab
    resolves them (`extends`, then `default:`; the `jobs` fixture)."""
    assert pipeline["workflow"]["auto_cancel"]["on_new_commit"] == "interruptible"
    assert pipeline["default"]["interruptible"] is True, "the other jobs stay cancellable"
    shared_state = {name for name, job in jobs.items()
                    if any(re.match(r"make (plan|apply) ENV=(?!sandbox\b)", line) for line in job["script"])}
    assert shared_state == {"plan:aws", "apply:aws"}
    lock_holders = {name for name, job in jobs.items() if "resource_group" in job}
    assert shared_state <= lock_holders, "a job planning or applying a shared state holds no resource_group"
    interrupted = sorted(name for name in lock_holders if jobs[name].get("interruptible", False) is not False)
    assert not interrupted, f"{interrupted} hold the state lock but a new commit can cancel them"


def _readme_variables() -> dict[str, dict[str, str]]:
    """README's CI/CD variables table (section "The GitLab pipeline"): variable -> {column: cell}."""
    section = README.read_text().split("## The GitLab pipeline", 1)[1].split("\n## ", 1)[0]
    table = section[section.index("\n| variable |") + 1:].split("\n\n", 1)[0].splitlines()
    header, _, *rows = ([cell.strip() for cell in line.strip().strip("|").split("|")] for line in table)
    return {name.strip("`"): dict(zip(header, row, strict=True)) for row in rows for name in row[0].split(", ")}


def _environment_name(job: dict) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def _reached_by(scope: str, jobs: dict[str, dict]) -> set[str]:
    """The jobs a project variable with this environment scope reaches: `*` (the default) every job, with
    an environment or not; any other scope the jobs whose `environment:name` matches it (`*` a wildcard)."""
    if scope == "*":
        return set(jobs)
    return {name for name, job in jobs.items()
            if _environment_name(job) is not None and fnmatch.fnmatchcase(_environment_name(job), scope)}


def test_the_plan_key_and_deploy_secrets_reach_only_plan_and_apply(pipeline, jobs):
    """A protected variable alone reaches every job of a protected branch (lint, test, build run code
    from the repository); scoped to an environment it reaches only the jobs whose `environment:name`
    matches the scope (https://docs.gitlab.com/ci/environments/#limit-the-environment-scope-of-a-cicd-variable).
    `action: prepare` gives plan:aws the environment's variables without recording a deployment
    (https://docs.gitlab.com/ci/environments/#access-an-environment-for-preparation-or-verification-purposes).
    The README's table says which scope; the pipeline must give exactly plan:aws and apply:aws that
    environment, and pass none of those secrets itself."""
    table = _readme_variables()
    for secret in ("PLAN_ENCRYPTION_KEY", "TF_VAR_upload_token", "TF_VAR_image_pull_credentials"):
        assert table[secret]["protected"].startswith("yes"), f"{secret} must be protected"
        scope = table[secret]["environment scope"].strip("`")
        reached = _reached_by(scope, jobs)
        assert reached == {"plan:aws", "apply:aws"}, f"{secret} scoped to {scope!r} reaches {sorted(reached)}"
        assert secret not in pipeline.get("variables", {}), f"the file gives every job {secret}"
        assert all(secret not in job.get("variables", {}) for job in jobs.values()), f"the file sets {secret}"
    assert jobs["plan:aws"]["environment"]["action"] == "prepare", "a plan is not a deployment"


def test_every_job_is_a_makefile_target_or_a_checked_in_script(jobs):
    makefile = (REPO_ROOT / "Makefile").read_text()
    for name, job in jobs.items():
        for line in job["script"]:
            if line.startswith("make "):
                target = line.split()[1]
                assert f"\n{target}:" in makefile, f"{name} calls make {target}, which the Makefile lacks"
            else:
                assert (REPO_ROOT / line).is_file(), f"{name} runs {line!r}: not a make target or a script"


def test_plans_keep_only_safe_files_and_report_to_the_merge_request(jobs):
    for name in (n for n in jobs if n.startswith("plan:")):
        job = jobs[name]
        artifacts = job["artifacts"]
        assert artifacts["access"] == "developer", "plans show the infrastructure: not for guests"
        assert sorted(artifacts["paths"]) == sorted(f"$TF_ROOT/{f}" for f in (
            "plan.cache.enc", "plan.meta.json", "plan.txt", ".terraform.lock.hcl")), "only encrypted plans travel"
        assert artifacts["reports"]["terraform"] == "$TF_ROOT/plan.json"
        assert job["script"] == [f"make plan ENV={job['variables']['TF_ROOT'].split('/')[1]}"]


def test_the_aws_plan_runs_on_the_default_branch_only_and_deploys_the_built_image(jobs):
    plan = jobs["plan:aws"]
    assert [rule["if"] for rule in plan["rules"]] == ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"]
    assert all(rule.get("when", "on_success") != "never" and "variables" not in rule for rule in plan["rules"])
    assert plan["variables"]["PLAN_REQUIRE_APPLIABLE"] == "true"
    assert plan["variables"]["PLAN_IMAGE_TAG"] == "$CI_COMMIT_SHA"
    assert plan["variables"]["PLAN_IMAGE_REPOSITORY"] == "$CI_REGISTRY_IMAGE"
    example = (REPO_ROOT / "envs/aws/terraform.tfvars.example").read_text()
    assert not any(line.startswith("image_tag") for line in example.splitlines()), "a tfvars image_tag competes"


AWS_CREDENTIAL_VARIABLE = re.compile(r"\bAWS_\w*(ROLE_ARN|ACCESS_KEY|SECRET|SESSION_TOKEN|WEB_IDENTITY)\w*")


def _created_jobs(tmp_path, branch: str, variables: dict[str, str]) -> set[str]:
    """The jobs GitLab creates in a pipeline of `branch` with these predefined variables, rules evaluated
    by gitlab-ci-local (--list-json lists every job with its evaluated `when`; GitLab creates those not `never`)."""
    if ci_local.missing_tools() and os.environ.get("CI") != "true":
        pytest.skip(f"gitlab-ci-local needs {', '.join(ci_local.missing_tools())}")
    repo = ci_local.clean_copy(tmp_path / "repo", branch=branch)
    predefined = [arg for name in variables for arg in ("--ignore-predefined-vars", name)]
    listed = ci_local.run(repo, "--list-json", *predefined, variables=variables)
    assert listed.returncode == 0, listed.output
    return {job["name"] for job in listed.json() if job["when"] != "never"}


MERGE_REQUEST = {"CI_PIPELINE_SOURCE": "merge_request_event"}


def test_no_merge_request_job_touches_aws_credentials(tmp_path, pipeline, jobs):
    """A merge request can rewrite any job's script, so no job of its pipeline may hold a way into AWS:
    no ID token (GitLab mints one for whatever job declares `id_tokens`; the plan role's trust policy is
    the only other guard) and no role ARN or key variable, in the job, its rules or the file's globals.
    AWS_PLAN_ROLE_ARN is protected (README's table): absent from merge-request pipelines even if a job
    named it, and the plan role reads the state's set_sensitive values and every Kubernetes Secret."""
    in_merge_requests = _created_jobs(tmp_path, "feature/x", MERGE_REQUEST)
    assert {"lint", "validate", "test", "plan:sandbox"} <= in_merge_requests
    assert not AWS_CREDENTIAL_VARIABLE.search(json.dumps(pipeline.get("variables", {})))
    assert "id_tokens" not in pipeline.get("default", {})
    for name in sorted(in_merge_requests):
        job = jobs[name]
        assert "id_tokens" not in job, f"{name} runs in merge requests and gets an AWS ID token"
        reachable = [job.get("variables", {}), *(rule.get("variables", {}) for rule in job.get("rules", []))]
        for variables in reachable:
            found = [f"{key}={value}" for key, value in variables.items()
                     if AWS_CREDENTIAL_VARIABLE.search(f"{key} {value}")]
            assert not found, f"{name} runs in merge requests with {found}"
    table = _readme_variables()
    for role in ("AWS_PLAN_ROLE_ARN", "AWS_APPLY_ROLE_ARN"):
        assert table[role]["protected"].startswith("yes"), f"{role} must be protected: merge requests get none"


def test_merge_requests_check_that_their_commits_are_conventional(jobs):
    """CHANGELOG.md is made from the messages (tests/ci/test_commits.py runs the check itself)."""
    commits = jobs["commits"]
    assert commits["script"] == ["make commits"] and commits["stage"] == "validate" and _needs(commits) == ["ci-image"]
    assert [rule["if"] for rule in commits["rules"]] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert commits["variables"]["GIT_DEPTH"] == "0", "a shallow clone may lack the merge request's base"
    assert "CI_MERGE_REQUEST_DIFF_BASE_SHA" in (REPO_ROOT / "Makefile").read_text()


def test_test_job_runs_the_readme_test_command(jobs):
    assert jobs["test"]["script"] == jobs["test:privileged"]["script"] == ["make test"]
    assert (REPO_ROOT / ".ci/run").read_text().strip().endswith("make test")


CI_IMAGE = "$CI_REGISTRY_IMAGE/ci:$CI_IMAGE_TAG"


def test_every_job_runs_in_an_image_that_has_what_it_needs(pipeline, jobs):
    """Every job but the two BuildKit ones runs in the CI image built from .ci/Dockerfile by `ci-image` (after it:
    `needs`), and no job installs a tool at run time (tests/ci/test_ci_image.py runs `test` in that image)."""
    buildkit = {"ci-image", "build"}
    for name, job in jobs.items():
        image = job["image"]["name"] if isinstance(job["image"], dict) else job["image"]
        if name in buildkit:
            assert image.startswith("moby/buildkit:") and image.endswith("-rootless"), name
            continue
        assert image == CI_IMAGE, f"{name} runs in {image}"
        assert "ci-image" in _upstream(jobs, name), f"{name} can start before its image is pushed"
        commands = " ".join(job.get("before_script", []) + job["script"])
        assert "apt-get" not in commands and "pip install" not in commands, f"{name} installs a tool at run time"
    assert jobs["ci-image"]["script"] == [".ci/push-ci-image.sh"] and jobs["ci-image"]["stage"] == "image"
    assert "$CI_IMAGE_TAG" in (REPO_ROOT / ".ci/push-ci-image.sh").read_text()


def _pytest_paths(arguments: str, option: str = "") -> set[str]:
    return {word.removeprefix(option) for word in arguments.split() if word.startswith(option + "tests/")}


def test_the_privileged_tests_have_a_job_and_a_runner_tag_of_their_own_and_nothing_falls_between(jobs):
    """The shared-runner `test` job leaves out exactly what `test:privileged` runs (podman, the cluster, the test
    job run in its image), by path, in one variable; every test file of tests/ runs in exactly one of the two.
    Under CI=true a test that cannot run fails, so the split is the only way a test leaves a job."""
    test, privileged = jobs["test"], jobs["test:privileged"]
    assert privileged["tags"] == ["privileged"]
    assert not any("tags" in job for name, job in jobs.items() if name != "test:privileged"), "the rest: any runner"
    assert privileged["stage"] == test["stage"] == "test" and _needs(privileged) == _needs(test) == ["ci-image"]
    assert test["variables"]["PYTEST_ARGS"] == "--junitxml=report.xml $PYTEST_DESELECT $PYTEST_SELECTION"
    assert test["variables"]["PYTEST_SELECTION"] == "", "the pipeline's test job runs every test"
    left_out = _pytest_paths(test["variables"]["PYTEST_DESELECT"], "--ignore=")
    assert left_out == {"tests/container", "tests/cluster", "tests/e2e/test_kubernetes_environments.py",
                        "tests/ci/test_ci_image.py"}
    assert set(test["variables"]["PYTEST_DESELECT"].split()) == {f"--ignore={path}" for path in left_out}
    assert privileged["variables"]["PYTEST_ARGS"].startswith("--junitxml=report.xml ")
    assert _pytest_paths(privileged["variables"]["PYTEST_ARGS"]) == left_out
    files = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "tests").rglob("test_*.py")}
    for path in left_out:
        assert (REPO_ROOT / path).exists(), path
    in_privileged = {f for f in files if any(f == path or f.startswith(path + "/") for path in left_out)}
    assert {"tests/container/test_pod.py", "tests/ci/test_ci_image.py"} <= in_privileged
    assert any(f.startswith("tests/cluster/") for f in in_privileged)
    assert files - in_privileged, "the shared runner's job runs the rest"
    for name in ("test", "test:privileged"):
        assert jobs[name]["artifacts"]["paths"] == ["report.xml"] == [jobs[name]["artifacts"]["reports"]["junit"]]
    assert {"test", "test:privileged"} <= _upstream(jobs, "apply:aws"), "nothing deploys untested"


def test_validate_covers_every_terraform_root_module_and_example():
    roots = {str(path.parent.relative_to(REPO_ROOT)) for top in ("modules", "envs")
             for path in (REPO_ROOT / top).rglob("*.tf") if ".terraform" not in path.parts}
    validated = set(validate.discover_roots())
    assert {"modules/s3-staging/examples/complete", "envs/aws"} <= roots
    assert roots == validated, f"make validate misses {sorted(roots - validated)}"


def test_cloud_access_uses_oidc_never_static_keys(jobs):
    text = PIPELINE_FILE.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for name in (n for n in jobs if n.endswith(":aws")):
        job = jobs[name]
        assert job["id_tokens"]["AWS_OIDC_TOKEN"]["aud"] == "sts.amazonaws.com"
        assert job["variables"]["AWS_ROLE_ARN"].startswith("$AWS_")


def test_image_is_built_after_tests_and_tagged_with_the_commit_and_the_version(jobs):
    build = jobs["build"]
    assert _needs(build) == ["test"]
    assert {rule["if"] for rule in build["rules"]} == {
        '$CI_PIPELINE_SOURCE == "merge_request_event"', "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "$CI_COMMIT_TAG"}
    script = (REPO_ROOT / build["script"][0]).read_text()
    assert '${CI_REGISTRY_IMAGE}:${CI_COMMIT_SHA}' in script and '${CI_REGISTRY_IMAGE}:${CI_COMMIT_TAG}' in script


@pytest.mark.parametrize(("branch", "variables", "expected"), [
    ("main", {}, {"ci-image", "lint", "validate", "test", "test:privileged", "build", "plan:sandbox", "plan:aws",
                  "apply:aws"}),
    ("feature/x", MERGE_REQUEST,
     {"ci-image", "commits", "lint", "validate", "test", "test:privileged", "build", "plan:sandbox"}),
    ("feature/x", {}, {"ci-image", "lint", "validate", "test", "test:privileged", "plan:sandbox"}),
], ids=["default-branch", "merge-request", "branch-without-mr"])
def test_each_kind_of_pipeline_gets_the_jobs_it_should(tmp_path, branch, variables, expected):
    """Rules evaluated by gitlab-ci-local: AWS plan and apply only on the default branch, no image for plain branches."""
    assert _created_jobs(tmp_path, branch, variables) == expected
