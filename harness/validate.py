"""`make validate`: `terraform init -backend=false` + `terraform validate` on every root, module and example.

Minimal version from the pipeline branch (the standin branch replaces it with validation against the
real helm/kubernetes provider schemas). A root whose providers (its own or its local modules') cannot
be installed here — the offline mirror carries hashicorp/aws only — is reported as skipped with the
reason, never as validated. Exit status 1 when any root fails validation.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import terraform
from harness.processes import REPO_ROOT

_PROVIDER_SOURCE = re.compile(r'source\s*=\s*"(?:registry\.terraform\.io/)?([\w-]+/[\w-]+)"')
_LOCAL_MODULE = re.compile(r'source\s*=\s*"(\.\.?/[^"]+)"')


def terraform_roots(repo: Path = REPO_ROOT) -> list[Path]:
    """Every directory under modules/ and envs/ holding .tf files (examples and submodules included)."""
    found = {path.parent for top in ("modules", "envs") for path in (repo / top).rglob("*.tf")
             if ".terraform" not in path.parts}
    return sorted(found)


def required_providers(root: Path, seen: set[Path] | None = None) -> set[str]:
    """Provider sources a root needs, through the local modules it calls."""
    seen = seen if seen is not None else set()
    if root in seen:
        return set()
    seen.add(root)
    providers: set[str] = set()
    for tf in root.glob("*.tf"):
        text = tf.read_text()
        providers |= set(_PROVIDER_SOURCE.findall(text))
        for module in _LOCAL_MODULE.findall(text):
            providers |= required_providers((root / module).resolve(), seen)
    return providers


def not_installable_here(providers: set[str]) -> set[str]:
    """The providers of `providers` that cannot be installed here (empty on a machine with a registry)."""
    if terraform.provider_mirror() is None:
        return set()
    return {provider for provider in providers if f"registry.terraform.io/{provider}" != terraform.MIRRORED_PROVIDER}


def validate_root(root: Path, env: dict[str, str]) -> str:
    """One line (SKIP, FAIL with Terraform's message, or OK) for one root."""
    name = root.relative_to(REPO_ROOT)
    missing = not_installable_here(required_providers(root))
    if missing:
        return f"SKIP {name}: needs {', '.join(sorted(missing))}, which the offline provider mirror lacks"
    for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
        result = terraform.run(args, cwd=root, env=env, check=False)
        if result.returncode != 0:
            return f"FAIL {name}: terraform {args[0]}\n{result.stderr}{result.stdout[-2000:]}"
    return f"OK   {name}"


def main() -> int:
    env = terraform.terraform_env()
    # Two at a time: init and validate mostly wait on the provider plugin, and the plugin cache is
    # already filled (or filled by the first init of the aws provider).
    with ThreadPoolExecutor(max_workers=2) as pool:
        lines = list(pool.map(lambda root: validate_root(root, env), terraform_roots()))
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
