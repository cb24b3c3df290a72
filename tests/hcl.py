"""Terraform configuration as the tests read it: python-hcl2, with HCL's quotes dropped."""

from __future__ import annotations

from pathlib import Path

import hcl2


def unquote(value):
    """python-hcl2 keeps HCL's quotes on strings and block labels; drop them (recursively), and its markers."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [unquote(item) for item in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def load(path: Path) -> dict:
    """One file's top-level blocks as python-hcl2 gives them (quotes kept: `${...}` marks an expression)."""
    with path.open() as handle:
        return hcl2.load(handle)


def module_call(config: dict, name: str) -> dict:
    """The arguments of `module "<name>"` in a loaded file, as python-hcl2 gives them."""
    (body,) = [body for block in config.get("module", []) for label, body in block.items() if unquote(label) == name]
    return {key: value for key, value in body.items() if key not in ("__is_block__", "__comments__")}
