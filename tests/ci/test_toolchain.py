"""`.ci/toolchain.sh` (sourced by .ci/run): a machine without Terraform gets the CLI and the AWS provider mirror
from ../shared/toolchain, unpacked once into a cache outside the clone after both sums are checked; a tampered
archive is refused before anything is unpacked; a machine that has both is left alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

SCRIPT = REPO_ROOT / ".ci" / "toolchain.sh"
SHARED_TOOLCHAIN = REPO_ROOT.parent / "shared" / "toolchain"

pytestmark = pytest.mark.skipif(not any(SHARED_TOOLCHAIN.glob("terraform-*.tar.xz")),
                                reason=f"no toolchain archive in {SHARED_TOOLCHAIN} (only build machines carry one)")


def _source(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Source the script in a shell without Terraform on PATH (only the system's own directories)."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MIRROR_KIT_CACHE": str(tmp_path / "cache"), **env}
    return subprocess.run(["bash", "-c", f'. "{SCRIPT}" && terraform version -json 2>/dev/null | head -3 '
                           '&& echo "mirror=${TF_PROVIDER_MIRROR:-}"'],
                          capture_output=True, text=True, timeout=300, env=environment, check=False)


def test_a_machine_without_terraform_gets_the_verified_toolchain_once(tmp_path):
    first = _source(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "toolchain: unpacking terraform-" in first.stdout
    assert '"terraform_version": "1.11.4"' in first.stdout
    unpacked = next((tmp_path / "cache" / "toolchain").glob("terraform-*"))
    assert (unpacked / "bin" / "terraform").stat().st_mode & 0o111
    # The mirror is exported only where the machine has none of its own (this one may have one in /opt).
    mirror = first.stdout.split("mirror=")[1].strip()
    assert mirror in ("", str(unpacked / "plugins"))

    second = _source(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "unpacking" not in second.stdout, "a verified unpack is reused"


def test_an_archive_that_does_not_match_its_sum_is_refused(tmp_path):
    tampered = tmp_path / "toolchain"
    tampered.mkdir()
    archive = next(SHARED_TOOLCHAIN.glob("terraform-*.tar.xz"))
    os.symlink(archive, tampered / archive.name)
    (tampered / "SHA256SUMS").write_text(f"{'0' * 64}  {archive.name}\n")
    result = _source(tmp_path, TOOLCHAIN_DIR=str(tampered))
    assert result.returncode != 0
    assert "does not match its SHA256SUMS: refusing it" in result.stderr
    assert not any((tmp_path / "cache").rglob("terraform")), "nothing unpacked"


def test_a_machine_with_terraform_and_a_mirror_is_left_alone(tmp_path):
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH here")
    mirror = tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64"
    mirror.mkdir(parents=True)
    (mirror / "terraform-provider-aws_v5.100.0_x5").touch()
    result = _source(tmp_path, PATH=f"{Path(terraform).parent}:/usr/bin:/bin",
                     TF_PROVIDER_MIRROR=str(tmp_path / "mirror"))
    assert result.returncode == 0, result.stderr
    assert "../shared/toolchain not needed" in result.stdout
    assert not (tmp_path / "cache").exists()
