"""`make release VERSION=vX.Y.Z`: the version written into the tree, and the check that the tree names one.

Tags may not travel with every clone of the default branch, so a release is recognisable from the tree
alone: the newest released section of CHANGELOG.md, the chart's `version` and `appVersion`
(modules/kubernetes-app/chart/Chart.yaml) and every `?ref=vX.Y.Z` (and `image_tag = "vX.Y.Z"`) a README
tells consumers to pin name the same version. `bump` writes it into Chart.yaml and the READMEs (the
Makefile then regenerates the CHANGELOG with git-cliff, commits and tags); `check` lists what disagrees
(tests/ci/test_release.py runs it on the checkout and on a released copy).

appVersion is the image tag `vX.Y.Z`, with its `v`: the tag pipeline's `build` job pushes
`$CI_REGISTRY_IMAGE:$CI_COMMIT_TAG` with `APP_VERSION=$CI_COMMIT_TAG`, and the chart uses appVersion as
the image tag when none is given. The chart's `version` is SemVer without the `v`, as Helm requires.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

SEMVER_TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
CHART = Path("modules/kubernetes-app/chart/Chart.yaml")
CHANGELOG = Path("CHANGELOG.md")
RELEASE_HEADING = re.compile(r"^## (v\d+\.\d+\.\d+) - ", re.M)
PINS = (re.compile(r"(\?ref=)(v\d+\.\d+\.\d+)"), re.compile(r'(image_tag\s*=\s*")(v\d+\.\d+\.\d+)(?=")'))
CHART_FIELDS = {"version": re.compile(r'^(version:\s*)"?([^"\s#]+)"?', re.M),
                "appVersion": re.compile(r'^(appVersion:\s*)"?([^"\s#]+)"?', re.M)}


def readmes(repo: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--", "README.md", "*/README.md"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    return [Path(name) for name in listed.split("\0") if name]


def bump(repo: Path, tag: str) -> list[Path]:
    """Write `tag` into Chart.yaml and every README pin; the files changed."""
    if not SEMVER_TAG.match(tag):
        raise ValueError(f"VERSION must be a semantic version tag such as v1.2.0 (got {tag!r})")
    chart = (repo / CHART).read_text()
    chart = CHART_FIELDS["version"].sub(lambda m: f"{m.group(1)}{tag[1:]}", chart, count=1)
    chart = CHART_FIELDS["appVersion"].sub(lambda m: f'{m.group(1)}"{tag}"', chart, count=1)
    changed = []
    for path, text in [(CHART, chart), *((name, _pinned((repo / name).read_text(), tag)) for name in readmes(repo))]:
        if (repo / path).read_text() != text:
            (repo / path).write_text(text)
            changed.append(path)
    return changed


def _pinned(text: str, tag: str) -> str:
    for pin in PINS:
        text = pin.sub(lambda m: m.group(1) + tag, text)
    return text


def versions_named(repo: Path) -> dict[str, set[str]]:
    """Where the tree names a release version, and which: {place: {vX.Y.Z, ...}}."""
    named: dict[str, set[str]] = {}
    released = RELEASE_HEADING.findall((repo / CHANGELOG).read_text())
    named["CHANGELOG.md, newest release"] = set(released[:1])
    chart = (repo / CHART).read_text()
    for field, pattern in CHART_FIELDS.items():
        value = pattern.search(chart).group(2)
        named[f"Chart.yaml {field}"] = {value if value.startswith("v") or field == "appVersion" else f"v{value}"}
    for name in readmes(repo):
        text = (repo / name).read_text()
        pins = {match.group(2) for pin in PINS for match in pin.finditer(text)}
        if pins:
            named[f"{name} pins"] = pins
    return named


def disagreements(repo: Path) -> list[str]:
    """Empty when the newest released CHANGELOG section, Chart.yaml and every README pin name one version."""
    named = versions_named(repo)
    released = named["CHANGELOG.md, newest release"]
    if not released:
        return ["CHANGELOG.md has no released section (`## vX.Y.Z - date`): run `make release VERSION=vX.Y.Z`"]
    [version] = released
    return [f"{place} names {', '.join(sorted(versions))}, not {version}"
            for place, versions in named.items() if versions != {version}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.release")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bump", help="write VERSION into Chart.yaml and the README pins").add_argument("version")
    sub.add_parser("check", help="the newest release, Chart.yaml and the README pins name one version")
    arguments = parser.parse_args(argv)
    # The checkout make runs in (a release copy in the tests), never where the package happens to be installed.
    repo = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())
    if arguments.command == "bump":
        for path in bump(repo, arguments.version):
            print(f"release: {arguments.version} written into {path}")
        return 0
    found = disagreements(repo)
    for line in found:
        print(f"release: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
