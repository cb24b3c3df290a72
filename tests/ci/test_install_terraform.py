"""`.ci/install-terraform.sh`: skipped where Terraform is installed; otherwise trusts only HashiCorp's key.

The download itself needs releases.hashicorp.com, which is unreachable here, so `curl` is replaced by
a stand-in (`fake_curl`, named so) that serves a release signed by a throwaway key: a well-formed,
correctly signed release whose key is not HashiCorp's (pinned by fingerprint) must be refused before
anything is unpacked. Every gitlab-ci-local job run in tests/ci exercises the skip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from harness import processes

SCRIPT = processes.REPO_ROOT / ".ci/install-terraform.sh"
VERSION = "1.11.4"


def _gpg(home: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], check=True, capture_output=True,
                          timeout=60, **kwargs)


@pytest.fixture
def foreign_release(tmp_path) -> Path:
    """A complete release (archive, SHA256SUMS, its signature, the signing key) signed by a key of our own."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is missing: apt-get install gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", "impostor <release@example.com>", "ed25519", "sign", "never")
    release = tmp_path / "release"
    release.mkdir()
    archive = release / f"terraform_{VERSION}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("terraform", "#!/bin/sh\necho impostor\n")
    sums = release / f"terraform_{VERSION}_SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n")
    _gpg(home, "--detach-sign", "--output", str(sums) + ".sig", str(sums))
    (release / "pgp-key.txt").write_bytes(_gpg(home, "--armor", "--export").stdout)
    return release


def _fake_curl(bin_dir: Path, release: Path) -> None:
    """Stand-in for curl: `curl ... -o FILE URL` copies the URL's last path segment from `release`."""
    fake = bin_dir / "curl"
    fake.write_text(f'#!/bin/sh\nout=""\nwhile [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; *) url="$1";; esac; '
                    f'shift; done\ncp "{release}/${{url##*/}}" "$out"\n')
    fake.chmod(0o755)


def test_a_release_signed_by_any_key_but_hashicorps_is_refused(foreign_release, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_curl(bin_dir, foreign_release)
    for tool in ("git", "make"):  # present, so the script installs nothing from Debian
        (bin_dir / tool).symlink_to(shutil.which(tool))
    install_dir = tmp_path / "installed"
    install_dir.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "TERRAFORM_VERSION": VERSION,
           "TERRAFORM_INSTALL_DIR": str(install_dir)}
    assert shutil.which("terraform", path=env["PATH"]) is None, "this test needs a PATH without terraform"
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "is not C874011F0AB405110D02105534365D9472D7468F: refusing to trust it" in result.stderr
    assert list(install_dir.iterdir()) == [], "a binary from an unpinned key was unpacked"


def test_an_installed_terraform_is_used_as_it_is():
    result = subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "TERRAFORM_VERSION": VERSION},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "already on PATH: not installing" in result.stdout
