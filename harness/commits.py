"""Conventional Commits, enforced: the commit-msg hook (.pre-commit-config.yaml) and the pipeline's `commits` job.

CHANGELOG.md is generated from the commit messages (git-cliff, cliff.toml), so a message that is not a
Conventional Commit lands under "Other changes" without its type, and a breaking change without `!` or a
`BREAKING CHANGE:` footer gets no upgrade note. This refuses such messages where they are written
(`python3 -m harness.commits file .git/COMMIT_EDITMSG`, the hook) and where they arrive (`python3 -m
harness.commits range BASE..HEAD`, `make commits`, every commit a merge request adds). Standard library only:
the hook and the job run it with any Python >= 3.11, before any virtual environment exists.

    type(scope)!: summary          type: build chore ci docs feat fix perf refactor revert style test
                                   scope (optional): lower-case, e.g. eks, kubernetes-app, ci
    body (optional, after a blank line)

    BREAKING CHANGE: what a consumer must change (one footer per change; `!` alone marks it too)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

TYPES = ("build", "chore", "ci", "docs", "feat", "fix", "perf", "refactor", "revert", "style", "test")
HEADER = re.compile(rf"^(?:{'|'.join(TYPES)})(?:\([a-z0-9][a-z0-9._/-]*\))?!?: \S")
# What git itself writes and the convention leaves alone: merge commits.
EXEMPT = re.compile(r"^Merge (branch|remote-tracking branch|tag|commit) ")
FOOTER_LOOKALIKE = re.compile(r"^BREAKING[ _-]?CHANGES?\s*:", re.IGNORECASE)
FOOTER = re.compile(r"^BREAKING[ -]CHANGE: \S")
SCISSORS = "# ------------------------ >8 ------------------------"


def _cleaned(message: str) -> list[str]:
    """The message as git stores it: without the comment lines git's editor shows, and nothing below the
    scissors line of `commit --verbose`."""
    lines = message.split(SCISSORS, 1)[0].splitlines()
    lines = [line.rstrip() for line in lines if not line.startswith("#")]
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def problems(message: str) -> list[str]:
    """Why this message is not a Conventional Commit (empty when it is)."""
    lines = _cleaned(message)
    if not lines:
        return ["the message is empty"]
    header = lines[0]
    if EXEMPT.match(header):
        return []
    found = []
    if not HEADER.match(header):
        found.append(f"the first line must be `type(scope): summary` or `type!: summary` with type one of "
                     f"{', '.join(TYPES)} and a lower-case scope, e.g. `fix(eks): refuse an empty admin list`; "
                     f"got {header!r}")
    if len(lines) > 1 and lines[1]:
        found.append("a blank line must separate the first line from the body")
    for line in lines[1:]:
        if FOOTER_LOOKALIKE.match(line) and not FOOTER.match(line):
            found.append(f"write the footer as `BREAKING CHANGE: what to change` (git-cliff reads only that form); "
                         f"got {line!r}")
    return found


def check_file(path: Path) -> int:
    found = problems(path.read_text(errors="replace"))
    for problem in found:
        print(f"commit message: {problem}", file=sys.stderr)
    if found:
        print("commit message: Conventional Commits, see harness/commits.py (your message is kept in "
              f"{path}; `git commit -e -F {path}` edits it)", file=sys.stderr)
    return 1 if found else 0


def check_range(revisions: str, repo: Path = Path(".")) -> int:
    """Every commit in `git log revisions` (e.g. BASE..HEAD); merge commits are skipped by git."""
    log = subprocess.run(["git", "log", "--no-merges", "--format=%H%x00%B%x00", revisions], cwd=repo,
                         capture_output=True, text=True, check=True).stdout
    fields = log.split("\0")
    bad = 0
    for commit, message in zip(fields[0::2], fields[1::2], strict=False):
        for problem in problems(message):
            bad += 1
            print(f"{commit.strip()[:12]}: {problem}", file=sys.stderr)
    count = len([c for c in fields[0::2] if c.strip()])
    if bad:
        print(f"{bad} problem(s) in {count} commit(s) of {revisions}: reword them (git rebase -i, `reword`) "
              "as Conventional Commits (harness/commits.py)", file=sys.stderr)
        return 1
    print(f"{count} commit(s) of {revisions}: all Conventional Commits")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m harness.commits", description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("file", help="check one message file (the commit-msg hook)").add_argument("path", type=Path)
    sub.add_parser("range", help="check every commit of a git revision range").add_argument("revisions")
    arguments = parser.parse_args(argv)
    if arguments.command == "file":
        return check_file(arguments.path)
    return check_range(arguments.revisions)


if __name__ == "__main__":
    sys.exit(main())
