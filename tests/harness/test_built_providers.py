"""The helm and kubernetes providers built here carry the version their own source says they are.

harness/terraform.py puts the binaries `make tools` builds from tools/terraform-provider-*/go.mod into a
filesystem mirror under the version that wrapper's `// provider-version:` line names. That label must be
the one HashiCorp's release build would stamp from the same commit: the `version/VERSION` file of the
pinned module (read here from Go's module cache, where the build took its source).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from harness import terraform, tools


@pytest.mark.parametrize("name", terraform.BUILT_PROVIDERS)
def test_the_mirror_version_is_the_pinned_commits_own(name):
    if shutil.which("go") is None:
        pytest.skip("go is not installed: the pinned source cannot be read")
    tool = tools.load(name)
    downloaded = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@{tool.version}"],
                                capture_output=True, text=True, timeout=600, check=True, cwd=tool.wrapper)
    source = json.loads(downloaded.stdout)["Dir"]
    with open(f"{source}/version/VERSION") as version_file:
        assert version_file.read().strip() == terraform.built_provider_version(name)
