"""The Go programs this repository runs (helm, terraform-docs, tflint and its AWS ruleset, and the
single-node cluster's: Kubernetes, etcd, containerd, the CNI plugins), built from pinned Go modules into
a cache outside the checkout: `make tools`.

    python3 -m harness.tools build [NAME ...]   # build what is missing, one line per tool
    python3 -m harness.tools bin-dir            # the directory to put on PATH (links to the built binaries)
    python3 -m harness.tools path NAME [PROGRAM] # one tool's binary (built if missing)

One pinned list: each tool is a wrapper module `tools/<name>/go.mod` whose `tool` directive names the
program and whose `require` (with `go.sum`) pins it and everything it links. A wrapper may name several
programs of one module (`tool ( ... )`: kube-apiserver, kubelet, ... from k8s.io/kubernetes, whose go.mod
repeats that module's `replace` lines against the published staging modules): one `go build` makes them
all, each named after its package's last element, side by side in the tool's cache directory. `go install pkg@version`
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
    package: str  # the `tool` directive: the main package built (the first, when the wrapper names several)
    module: str  # the module that package belongs to, whose `require` line is the pin
    version: str
    # `-X` flags: some programs only know their own version when the release build stamps it.
    ldflags: tuple[str, ...] = ()
    # Every main package of a multi-program wrapper (empty for a one-program wrapper: `package` alone).
    packages: tuple[str, ...] = ()

    @property
    def programs(self) -> dict[str, str]:
        """Program name -> main package: the tool's own name for a one-program wrapper, else each package's
        last path element (what `go build -o DIR/` names it)."""
        if not self.packages:
            return {self.name: self.package}
        return {package.rsplit("/", 1)[-1]: package for package in self.packages}

    def program(self, name: str) -> Path:
        if name not in self.programs:
            raise SystemExit(f"tools: {self.name} builds {', '.join(sorted(self.programs))}, not {name!r}")
        return self.binary if name == self.name and not self.packages else self.binary.parent / name

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
        if self.packages:  # the first program stands for the build: all are made together
            return cache_root() / self.name / self.version / next(iter(self.programs))
        return cache_root() / self.name / self.version / self.name


# Flags a release build stamps that `go build` does not: each program's own version string.
LDFLAGS = {
    "helm": ("-X helm.sh/helm/v4/internal/version.version={version}",
             "-X helm.sh/helm/v4/internal/version.gitTreeState=clean"),
    # kube::version::ldflags (hack/lib/version.sh): unstamped, every component reports v0.0.0-master.
    "kubernetes": tuple(f"-X k8s.io/{package}.{key}={{{key}}}"
                        for package in ("component-base/version", "client-go/pkg/version")
                        for key in ("gitVersion", "gitMajor", "gitMinor", "gitTreeState")),
    "containerd": ("-X github.com/containerd/containerd/v2/version.Version={version}",),
}


def _ldflags(name: str, version: str) -> tuple[str, ...]:
    major, minor = version.removeprefix("v").split(".")[:2]
    fields = {"version": version, "gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    return tuple(flag.format(**fields) for flag in LDFLAGS.get(name, ()))


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
    packages = re.findall(r"^tool\s+([^\s(]+)", go_mod, re.MULTILINE)
    block = re.search(r"^tool\s+\(\n(.*?)^\)", go_mod, re.MULTILINE | re.DOTALL)
    grouped = tuple(line.strip() for line in block.group(1).splitlines() if line.strip()) if block else ()
    if len(packages) + len(grouped) == 0 or (packages and grouped) or len(packages) > 1:
        raise RuntimeError(f"tools/{name}/go.mod must have one `tool` directive or one `tool ( ... )` block")
    module = _module_of((packages or grouped)[0], go_mod)
    if any(_module_of(package, go_mod) != module for package in grouped):
        raise RuntimeError(f"tools/{name}/go.mod: the programs of one wrapper come from one module ({module})")
    version = _require_version(go_mod, module)
    return Tool(name, (packages or grouped)[0], module, version, _ldflags(name, version), grouped)


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
        # Several programs: `go build -o DIR/` names each after its package; then each is moved into place.
        if tool.packages:
            staging.mkdir()
        argv = [go, "build", "-trimpath", "-o", f"{staging}/" if tool.packages else str(staging)]
        if tool.ldflags:
            argv += ["-ldflags", " ".join(tool.ldflags)]
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
        # A cold build takes minutes: steps.run says so every 10 s, and shows Go's output only if it fails.
        if steps.run(f"tools: building {tool.name} {tool.version} from tools/{tool.name}",
                     [*argv, *(tool.packages or (tool.package,))], cwd=tool.wrapper, env=env) != 0:
            if staging.is_dir():
                shutil.rmtree(staging, ignore_errors=True)
            staging.unlink(missing_ok=True)
            raise SystemExit(f"tools: building {tool.name} failed (Go's output above)")
        if tool.packages:
            for program in tool.programs:  # the first (binary) last: its presence means all are there
                if program != binary.name:
                    os.replace(staging / program, binary.with_name(program))
            os.replace(staging / binary.name, binary)
            staging.rmdir()
        else:
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
    for program in tool.programs:
        staging = BIN_DIR / f".{program}.{os.getpid()}"
        staging.unlink(missing_ok=True)
        staging.symlink_to(tool.program(program) if tool.packages else binary)
        os.replace(staging, BIN_DIR / program)


def path(name: str, program: str | None = None) -> Path:
    """A tool's binary (or one `program` of a multi-program tool) for the harness and the tests: built when
    missing; where Go is missing, the same program on PATH (a workstation that installed it) is used."""
    tool = load(name)
    program = program or name
    tool.program(program)  # a name the tool builds
    if _go() is None and not (tool.binary.exists()):
        on_path = shutil.which(program)
        if on_path and not name.startswith("tflint-ruleset-"):
            return Path(on_path)
        raise SystemExit(_missing_go_message(tool))
    binary = build(tool, quiet=True)
    link(tool, binary)
    return tool.program(program) if tool.packages else binary


def built(name: str, program: str | None = None) -> Path | None:
    """A program's binary if `make tools` built it from today's pin, else None (never builds: a caller that
    would rather skip than spend a cold build, such as the cluster tests outside CI)."""
    tool = load(name)
    stamp_file = tool.binary.with_name(f".{tool.binary.name}.stamp")
    if not (tool.binary.exists() and stamp_file.exists() and stamp_file.read_text() == tool.stamp):
        return None
    return tool.program(program or name) if tool.packages else tool.binary


def main(argv: list[str]) -> int:
    command, names = (argv[0], argv[1:]) if argv else ("build", [])
    if command == "bin-dir":
        print(BIN_DIR)
        return 0
    if command == "plugin-dir":
        print(plugin_dir())
        return 0
    if command == "path":
        print(path(*names[:2]))
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
