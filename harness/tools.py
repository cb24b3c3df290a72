"""The Go programs this repository runs (helm, terraform-docs, tflint and its AWS ruleset), built from
pinned Go modules into a cache outside the checkout: `make tools`.

    python3 -m harness.tools build [NAME ...]   # build what is missing, one line per tool
    python3 -m harness.tools bin-dir            # the directory to put on PATH (links to the built binaries)
    python3 -m harness.tools path NAME          # one tool's binary (built if missing)

One pinned list: each tool is a wrapper module `tools/<name>/go.mod` whose `tool` directive names the
program and whose `require` (with `go.sum`) pins it and everything it links. `go install pkg@version`
cannot be used here: it asks the module proxy for the version list to check deprecations, and the
proxy these machines reach refuses that list for several of the tools.

The cache is keyed by tool and version (`<cache>/<name>/<version>/`), lives outside the clone (a fresh
clone on the same machine reuses it) and is found at `MIRROR_KIT_TOOLS_DIR`, else
`$XDG_CACHE_HOME/mirror-kit/tools`, else `~/.cache/mirror-kit/tools`. A build whose go.sum changed is
rebuilt; a present one is not touched. Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness import steps

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"
# Links to the built binaries, one per tool, for PATH: inside the clone, so two clones that pin different
# versions never see each other's; the binaries themselves stay in the shared cache.
BIN_DIR = REPO_ROOT / ".cache" / "tools-bin"
GO_DOWNLOAD = "https://go.dev/dl/"


def cache_root() -> Path:
    configured = os.environ.get("MIRROR_KIT_TOOLS_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mirror-kit" / "tools"


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # the `tool` directive: the main package built
    module: str  # the module that package belongs to, whose `require` line is the pin
    version: str
    # `-X` flags: some programs only know their own version when the release build stamps it.
    ldflags: tuple[str, ...] = ()

    @property
    def wrapper(self) -> Path:
        return TOOLS_DIR / self.name

    @property
    def stamp(self) -> str:
        """What a build was made from: a changed go.sum (a dependency moved) means a rebuild."""
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum"):
            digest.update((self.wrapper / name).read_bytes())
        return digest.hexdigest()

    @property
    def binary(self) -> Path:
        """Where the built program lives. tflint's plugins go where `TFLINT_PLUGIN_DIR` (see plugin_dir)
        lets tflint find a plugin its config names with `source` and `version`, without `tflint --init`."""
        if self.name.startswith("tflint-ruleset-"):
            return plugin_dir() / self.module / self.version.removeprefix("v") / self.name
        return cache_root() / self.name / self.version / self.name


# Flags a release build stamps that `go build` does not: each program's own version string.
LDFLAGS = {
    "helm": ("-X helm.sh/helm/v4/internal/version.version={version}",
             "-X helm.sh/helm/v4/internal/version.gitTreeState=clean"),
}


def plugin_dir() -> Path:
    """TFLINT_PLUGIN_DIR for tflint: its plugins, laid out `<source>/<version>/<name>` as `tflint --init` would."""
    return cache_root() / "tflint-plugins"


def _require_version(go_mod: str, module: str) -> str:
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod, re.MULTILINE)
    if not found:
        raise RuntimeError(f"tools: no `require {module} vX` line pins it in its go.mod")
    return found.group(1)


def _module_of(package: str, go_mod: str) -> str:
    """The required module that owns `package`: the longest `require` path that is a prefix of it."""
    required = re.findall(r"^\s*(?:require\s+)?(\S+)\s+v\S+", go_mod, re.MULTILINE)
    owners = [module for module in required if package == module or package.startswith(module + "/")]
    if not owners:
        raise RuntimeError(f"tools: {package} belongs to no module its go.mod requires")
    return max(owners, key=len)


def load(name: str) -> Tool:
    go_mod_path = TOOLS_DIR / name / "go.mod"
    if not go_mod_path.exists():
        known = ", ".join(t.name for t in all_tools())
        raise SystemExit(f"tools: no tool named {name!r} (tools/{name}/go.mod missing); known: {known}")
    go_mod = go_mod_path.read_text()
    packages = re.findall(r"^tool\s+(\S+)", go_mod, re.MULTILINE)
    if len(packages) != 1:
        raise RuntimeError(f"tools/{name}/go.mod must have exactly one `tool` directive, has {len(packages)}")
    module = _module_of(packages[0], go_mod)
    version = _require_version(go_mod, module)
    ldflags = tuple(flag.format(version=version) for flag in LDFLAGS.get(name, ()))
    return Tool(name, packages[0], module, version, ldflags)


def all_tools() -> list[Tool]:
    return [load(path.parent.name) for path in sorted(TOOLS_DIR.glob("*/go.mod"))]


def _go() -> str | None:
    return shutil.which("go")


def _missing_go_message(tool: Tool) -> str:
    return (f"{tool.name} {tool.version} is built from tools/{tool.name} with Go, which is not on PATH: install Go "
            f"(>= the `go` line of tools/{tool.name}/go.mod, {GO_DOWNLOAD}) and run `make tools`, or install "
            f"{tool.name} {tool.version} yourself and put it on PATH")


def _dir_size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


def build(tool: Tool, *, quiet: bool = False) -> Path:
    """The tool's binary, built first if missing or built from another go.sum. One build per tool at a time
    (a lock beside it): parallel test workers and two clones wait for the first builder and reuse its binary."""
    binary = tool.binary
    stamp_file = binary.with_name(f".{binary.name}.stamp")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.with_name(f".{binary.name}.lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if binary.exists() and stamp_file.exists() and stamp_file.read_text() == tool.stamp:
            if not quiet:
                print(f"tools: {tool.name:<20} {tool.version:<10} present   {binary}", flush=True)
            return binary
        go = _go()
        if go is None:
            raise SystemExit(_missing_go_message(tool))
        started = time.monotonic()
        staging = binary.with_name(f".{binary.name}.{os.getpid()}")
        argv = [go, "build", "-trimpath", "-o", str(staging)]
        if tool.ldflags:
            argv += ["-ldflags", " ".join(tool.ldflags)]
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
        # A cold build takes minutes: steps.run says so every 10 s, and shows Go's output only if it fails.
        if steps.run(f"tools: building {tool.name} {tool.version} from tools/{tool.name}", [*argv, tool.package],
                     cwd=tool.wrapper, env=env) != 0:
            staging.unlink(missing_ok=True)
            raise SystemExit(f"tools: building {tool.name} failed (Go's output above)")
        os.replace(staging, binary)  # never a half-written binary at the path others run
        stamp_file.write_text(tool.stamp)
        print(f"tools: {tool.name:<20} {tool.version:<10} built in {time.monotonic() - started:5.0f} s, "
              f"{binary.stat().st_size / 2**20:.0f} MiB", flush=True)
    return binary


def link(tool: Tool, binary: Path) -> None:
    """BIN_DIR/<name> → the cached binary (plugins are found through TFLINT_PLUGIN_DIR instead)."""
    if tool.name.startswith("tflint-ruleset-"):
        return
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    staging = BIN_DIR / f".{tool.name}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(binary)
    os.replace(staging, BIN_DIR / tool.name)


def path(name: str) -> Path:
    """A tool's binary for the harness and the tests: built when missing; where Go is missing, the same
    program on PATH (a workstation that installed it) is used, and under CI=true a missing one fails."""
    tool = load(name)
    if _go() is None and not (tool.binary.exists()):
        on_path = shutil.which(name)
        if on_path and not name.startswith("tflint-ruleset-"):
            return Path(on_path)
        raise SystemExit(_missing_go_message(tool))
    binary = build(tool, quiet=True)
    link(tool, binary)
    return binary


def main(argv: list[str]) -> int:
    command, names = (argv[0], argv[1:]) if argv else ("build", [])
    if command == "bin-dir":
        print(BIN_DIR)
        return 0
    if command == "plugin-dir":
        print(plugin_dir())
        return 0
    if command == "path":
        print(path(names[0]))
        return 0
    if command != "build":
        print(__doc__, file=sys.stderr)
        return 2
    tools = [load(name) for name in names] if names else all_tools()
    missing = [tool for tool in tools if not tool.binary.exists()]
    if missing and _go() is None:
        message = "\n".join(_missing_go_message(tool) for tool in missing)
        if os.environ.get("CI", "").lower() == "true":
            print(message, file=sys.stderr)
            return 1
        print(f"{message}\nskipping them: the targets that need them will say so", file=sys.stderr)
        tools = [tool for tool in tools if tool not in missing]
    started = time.monotonic()
    built_any = False
    for tool in tools:
        was_present = tool.binary.exists()
        link(tool, build(tool))
        built_any |= not was_present
    if not built_any:
        print(f"tools: all {len(tools)} present in {cache_root()}, nothing built", flush=True)
    else:
        print(f"tools: done in {time.monotonic() - started:.0f} s; cache {cache_root()} holds "
              f"{_dir_size_mib(cache_root()):.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
