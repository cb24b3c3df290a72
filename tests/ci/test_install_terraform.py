"""`.ci/install-terraform.sh`: skipped where Terraform is installed; otherwise trusts only HashiCorp's key.

The download itself needs releases.hashicorp.com, which is unreachable here, so `curl` is replaced by
a stand-in (`_fake_curl`, named so) that copies files from a release made by the test: an archive,
its SHA256SUMS, that file's detached signature and the key file the script fetches from
www.hashicorp.com (`pgp-key.txt`), all made with throwaway keys. What the tests prove:

- a release signed by a key that is not HashiCorp's (pinned by fingerprint), with only that key in the
  key file, is refused before anything is unpacked;
- a key file holding the pinned key *and* an impostor's, with SHA256SUMS signed by the impostor, is
  refused too: the signature must be the pinned key's, not any key the key file happened to carry;
- a release signed, as HashiCorp signs, by a signing subkey of the pinned key installs.

The last two need a key whose secret the test holds to stand for HashiCorp's, so they run a copy of
the script, written to tmp_path, whose only difference is the pinned fingerprint: the shipped script
has no test hook. Every gitlab-ci-local job run in tests/ci exercises the skip.
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
HASHICORP_FINGERPRINT = "C874011F0AB405110D02105534365D9472D7468F"
FAKE_TERRAFORM = "#!/bin/sh\necho \"fake terraform from the test's release: $*\"\n"


def _gpg(home: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], check=True, capture_output=True,
                          timeout=60, **kwargs)


@pytest.fixture
def gnupg_home(tmp_path):
    """A throwaway GnuPG home for the test's keys; its gpg-agent is stopped afterwards."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is missing: apt-get install gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False,
                   timeout=30)


def _new_key(home: Path, uid: str, *, signing_subkey: bool = False) -> tuple[str, str]:
    """A new key pair: (primary fingerprint, fingerprint of the key that signs: the subkey if asked for)."""
    usage = "cert" if signing_subkey else "sign"
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", usage, "never")
    primary = _fingerprints(home, uid)[0]
    if not signing_subkey:
        return primary, primary
    _gpg(home, "--passphrase", "", "--quick-add-key", primary, "ed25519", "sign", "never")
    primary_again, subkey = _fingerprints(home, uid)
    assert primary_again == primary and subkey != primary
    return primary, subkey


def _fingerprints(home: Path, uid: str) -> list[str]:
    listing = _gpg(home, "--with-colons", "--with-subkey-fingerprint", "--list-keys", f"={uid}", text=True).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]


def _release(directory: Path, home: Path, *, signer: str, key_file_holds: list[str]) -> Path:
    """A complete release in `directory`: SHA256SUMS signed by `signer` (`!`: that exact key or subkey),
    and a key file with the public keys `key_file_holds` (fingerprints), as one armored file."""
    directory.mkdir()
    archive = directory / f"terraform_{VERSION}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        entry = zipfile.ZipInfo("terraform")
        entry.external_attr = 0o755 << 16
        bundle.writestr(entry, FAKE_TERRAFORM)
    sums = directory / f"terraform_{VERSION}_SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n")
    _gpg(home, "--local-user", f"{signer}!", "--detach-sign", "--output", f"{sums}.sig", str(sums))
    (directory / "pgp-key.txt").write_bytes(_gpg(home, "--armor", "--export", *key_file_holds).stdout)
    return directory


def _fake_curl(bin_dir: Path, release: Path) -> None:
    """Stand-in for curl: `curl ... -o FILE URL` copies the URL's last path segment from `release`."""
    fake = bin_dir / "curl"
    fake.write_text(f'#!/bin/sh\nout=""\nwhile [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; *) url="$1";; esac; '
                    f'shift; done\ncp "{release}/${{url##*/}}" "$out"\n')
    fake.chmod(0o755)


def _script_pinning(fingerprint: str, directory: Path) -> Path:
    """A copy of the script that differs from it only in the pinned fingerprint."""
    text = SCRIPT.read_text()
    pin = f'HASHICORP_FINGERPRINT="{HASHICORP_FINGERPRINT}"'
    assert text.count(pin) == 1, "the script no longer pins HashiCorp's fingerprint in one place"
    copy = directory / "install-terraform.sh"
    copy.write_text(text.replace(pin, f'HASHICORP_FINGERPRINT="{fingerprint}"'))
    return copy


def _install(script: Path, release: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Run `script` with curl serving `release` and no terraform on PATH: (its result, the install dir)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_curl(bin_dir, release)
    for tool in ("git", "make"):  # present, so the script installs nothing from Debian
        (bin_dir / tool).symlink_to(shutil.which(tool))
    install_dir = tmp_path / "installed"
    install_dir.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "TERRAFORM_VERSION": VERSION,
           "TERRAFORM_INSTALL_DIR": str(install_dir)}
    assert shutil.which("terraform", path=env["PATH"]) is None, "this test needs a PATH without terraform"
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120, check=False)
    return result, install_dir


def test_a_release_signed_by_any_key_but_hashicorps_is_refused(gnupg_home, tmp_path):
    impostor, _ = _new_key(gnupg_home, "impostor <release@example.com>")
    release = _release(tmp_path / "release", gnupg_home, signer=impostor, key_file_holds=[impostor])
    result, install_dir = _install(SCRIPT, release, tmp_path)
    assert result.returncode != 0
    assert f"is not {HASHICORP_FINGERPRINT}: refusing to trust it" in result.stderr
    assert list(install_dir.iterdir()) == [], "a binary from an unpinned key was unpacked"


def test_a_key_file_with_the_pinned_key_and_an_impostors_does_not_let_the_impostor_sign(gnupg_home, tmp_path):
    """The pinned key is in the key file, but SHA256SUMS is signed by another key the file also holds.

    The test above could not catch this: its key file holds the impostor's key alone, so the script's
    fingerprint check ("is the pinned key among the imported ones?") refuses it before any signature
    is looked at. Once the pinned key is there too, that check passes, and `gpg --trust-model always
    --verify` accepted a signature by *any* imported key: the impostor's release was unpacked.
    """
    pinned, _ = _new_key(gnupg_home, "stands for HashiCorp <security@example.com>", signing_subkey=True)
    impostor, _ = _new_key(gnupg_home, "impostor <release@example.com>")
    release = _release(tmp_path / "release", gnupg_home, signer=impostor, key_file_holds=[pinned, impostor])
    result, install_dir = _install(_script_pinning(pinned, tmp_path), release, tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"is not signed by the pinned key {pinned}: refusing the release" in result.stderr, result.stderr
    assert list(install_dir.iterdir()) == [], "a binary signed by an unpinned key was unpacked"


def test_a_release_signed_by_a_subkey_of_the_pinned_key_installs(gnupg_home, tmp_path):
    """HashiCorp signs with a subkey: the signature's primary key, not the signing subkey, is the pin."""
    pinned, subkey = _new_key(gnupg_home, "stands for HashiCorp <security@example.com>", signing_subkey=True)
    impostor, _ = _new_key(gnupg_home, "impostor <release@example.com>")
    release = _release(tmp_path / "release", gnupg_home, signer=subkey, key_file_holds=[impostor, pinned])
    result, install_dir = _install(_script_pinning(pinned, tmp_path), release, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (install_dir / "terraform").read_text() == FAKE_TERRAFORM
    assert "fake terraform from the test's release: version" in result.stdout


def test_an_installed_terraform_is_used_as_it_is():
    result = subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "TERRAFORM_VERSION": VERSION},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "already on PATH: not installing" in result.stdout
