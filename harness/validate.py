"""`terraform init -backend=false` + `terraform validate` of every root, example and module: `make validate`.

    python -m harness.validate [ROOT ...]      # default: every directory with *.tf under envs/ and modules/

Each root is validated in a private copy of envs/ and modules/ (relative module sources keep working,
the checkout is never touched, roots can run side by side), against the providers' real schemas: the
registry's providers on a normal machine; offline, the AWS mirror and the helm and kubernetes providers
built from pinned Go modules (tools/terraform-provider-*), wired by harness/terraform.py. Prints one line per root and exits non-zero
if any root fails, with Terraform's own messages below the summary.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from harness import steps, terraform
from harness.processes import REPO_ROOT

TREES = ("envs", "modules")  # what a root's relative `source = "../.."` may reach
# Validating an AWS root is CPU-bound (Terraform decodes the provider's schema, ~6 s of CPU); three at a time
# keep two cores busy while another root copies files and inits.
WORKERS = int(os.environ.get("VALIDATE_WORKERS", "3"))


@dataclass
class Result:
    root: str
    ok: bool
    seconds: float
    output: str

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.root:<40} {self.seconds:5.1f} s"
        first_error = next((ln.strip() for ln in self.output.splitlines() if ln.strip().startswith("Error:")),
                           self.output.strip().splitlines()[-1] if self.output.strip() else "no output")
        return f"FAIL  {self.root:<40} {self.seconds:5.1f} s  {first_error}"


def discover_roots(repo: Path = REPO_ROOT) -> list[str]:
    """Every directory under envs/ and modules/ holding Terraform files (roots, examples, modules, submodules)."""
    found = set()
    for tree in TREES:
        for path in (repo / tree).rglob("*.tf"):
            if ".terraform" not in path.parts:
                found.add(path.parent.relative_to(repo).as_posix())
    return sorted(found)


def validate_root(root: str, workdir: Path, repo: Path = REPO_ROOT, env: dict[str, str] | None = None) -> Result:
    """init + validate one root in its own copy under `workdir`."""
    started = time.monotonic()
    if not any((repo / root).glob("*.tf")):
        return Result(root, False, 0.0, f"Error: no Terraform files in {repo / root}")
    copy = workdir / root.replace("/", "__")
    for tree in TREES:
        terraform.copy_root(repo / tree, copy / tree)
    env = env or terraform.terraform_env()
    outputs = []
    for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
        result = terraform.run(args, cwd=copy / root, env=env, check=False, timeout=300)
        outputs.append(f"$ terraform {' '.join(args)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            return Result(root, False, time.monotonic() - started, "\n".join(outputs))
    return Result(root, True, time.monotonic() - started, "\n".join(outputs))


def validate_all(roots: list[str], workdir: Path, workers: int = WORKERS, repo: Path = REPO_ROOT,
                 on_result=None) -> list[Result]:
    """Validate `roots` side by side, each in its own copy under `workdir`; results in the order given.
    `on_result(result)` is called as each root finishes, so a caller can report progress."""
    env = terraform.terraform_env()
    if not roots:
        return []
    # Terraform does not promise a concurrency-safe plugin cache: unless every provider is cached already
    # (tests/conftest.py warms it), one init that needs the most providers runs first, alone.
    texts = {root: _terraform_text(repo / root) for root in roots}
    needed = set(re.findall(r'source\s*=\s*"hashicorp/([a-z0-9-]+)"', "".join(texts.values())))
    results = {}
    if not all(any(terraform.PLUGIN_CACHE.glob(f"registry.terraform.io/hashicorp/{name}/*/*")) for name in needed):
        first = max(roots, key=lambda root: (len(re.findall(r'source\s*=\s*"hashicorp/', texts[root])), root))
        results[first] = validate_root(first, workdir, repo, env)
        if on_result:
            on_result(results[first])
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending = {pool.submit(validate_root, root, workdir, repo, env): root for root in roots if root not in results}
        for future in as_completed(pending):
            results[pending[future]] = future.result()
            if on_result:
                on_result(results[pending[future]])
    return [results[root] for root in roots]


def _terraform_text(directory: Path) -> str:
    return "".join(path.read_text() for path in directory.glob("*.tf"))


def main(argv: list[str]) -> int:
    roots = argv or discover_roots()
    started = time.monotonic()
    print(f"validating {len(roots)} roots, {WORKERS} at a time (init + validate, one line per root as it ends)",
          flush=True)
    finished: list[Result] = []

    def report(result: Result) -> None:
        finished.append(result)
        print(result.line(), flush=True)

    # a first init on a busy machine can take longer than 10 s: say so meanwhile
    progress = steps.still(lambda: f"... {len(finished)} of {len(roots)} roots done after "
                                   f"{time.monotonic() - started:.0f} s")
    with progress, tempfile.TemporaryDirectory(prefix="terraform-validate-") as workdir:
        results = validate_all(roots, Path(workdir), on_result=report)
    failed = [result for result in results if not result.ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {time.monotonic() - started:.1f} s "
          f"(providers: {'helm/kubernetes built here, ' if terraform.built_provider_mirror() else ''}"
          f"{'AWS mirror' if terraform.provider_mirror() else 'registry'})")
    for result in failed:
        print(f"\n=== {result.root}\n{result.output.strip()}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
