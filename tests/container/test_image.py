"""What the built image holds: its default user, no compilers, no package installer or build cache, a size budget."""

from __future__ import annotations

import json

# Measured: 253 MB on the debootstrap base (Debian's python3 with its standard library, plus the venv's 62 MB);
# the official slim base is smaller. The budget leaves room for a dependency bump, not for a toolchain.
SIZE_BUDGET_BYTES = 300 * 10**6

# Run inside the image as root (to see /root): prints what a runtime image must not carry.
_INVENTORY = r"""
import glob, importlib.util, json, os, shutil
print(json.dumps({
    "compilers": [tool for tool in ("gcc", "cc", "c++", "g++", "clang", "make", "ld") if shutil.which(tool)],
    "pip_module": importlib.util.find_spec("pip") is not None,
    "pip_commands": [tool for tool in ("pip", "pip3") if shutil.which(tool)],
    "caches": [path for pattern in ("/root/.cache/*", "/tmp/*", "/var/cache/apt/archives/*.deb",
                                    "/opt/venv/lib/python3*/site-packages/pip*")
               for path in glob.glob(pattern)],
    "python": os.path.realpath(shutil.which("python")),
    "gunicorn": shutil.which("gunicorn"),
}))
"""


def _inventory(engine, image) -> dict:
    result = engine.run("run", "--rm", "--user", "0", "--network", "none", image["image"], "python", "-c", _INVENTORY)
    return json.loads(result.stdout)


def test_image_runs_as_the_numeric_non_root_user(engine, image) -> None:
    config = json.loads(engine.run("image", "inspect", image["image"]).stdout)[0]
    user = config.get("Config", {}).get("User") or config.get("User")
    assert user == "10001:10001"


def test_no_compilers_installer_or_build_cache(engine, image) -> None:
    found = _inventory(engine, image)
    assert found["compilers"] == []
    assert found["pip_module"] is False and found["pip_commands"] == []
    assert found["caches"] == []
    assert found["gunicorn"] == "/opt/venv/bin/gunicorn"
    assert found["python"].startswith(("/usr/bin/python3", "/usr/local/bin/python3"))


def test_image_size_within_budget(image) -> None:
    print(f"image {image['image']} on {image['base']}: {image['size_bytes'] / 1e6:.0f} MB, "
          f"built in {image['build_seconds']}s")
    assert image["size_bytes"] <= SIZE_BUDGET_BYTES, f"{image['size_bytes'] / 1e6:.0f} MB > budget"
