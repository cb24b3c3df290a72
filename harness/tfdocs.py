"""terraform-docs compatible README tables, without the terraform-docs binary.

`python -m harness.tfdocs --write` rewrites the block between `<!-- BEGIN_TF_DOCS -->` and
`<!-- END_TF_DOCS -->` in the README.md of every module and root; `--check` changes nothing and exits
non-zero when a README is missing, has no markers or is out of date (printing a diff).

The output matches terraform-docs' default `markdown table` format (`--lockfile=false`, escaping and HTML
on): Requirements, Providers, Modules, Resources, Inputs and Outputs sections, anchors on names,
inputs/outputs/providers/modules sorted by name, managed resources before data sources, types as written
in the source, defaults as indented JSON, multi-line types and defaults as <pre> blocks, and descriptions
sanitised as terraform-docs does it (`_` and `|` escaped outside code spans, line breaks as <br/>).
The separator row is the compact `|------|` that terraform-docs printed up to v0.19; newer releases pad
it (`| ---- |`), so a README regenerated with those differs in that row only.

Directories covered: modules/*, modules/*/modules/* and envs/* (each must have a README with the
markers), plus modules/*/examples/* whose README opts in by carrying the markers.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

from harness.paths import REPO_ROOT

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REQUIRED_GLOBS = ("modules/*", "modules/*/modules/*", "envs/*")
OPT_IN_GLOBS = ("modules/*/examples/*",)

_HCL_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, with_meta=False, strip_string_quotes=True, preserve_heredocs=False, explicit_blocks=False
)


# ----------------------------------------------------------------------------------------------------
# Reading a module
# ----------------------------------------------------------------------------------------------------


@dataclass
class Variable:
    name: str
    description: str
    type: str
    has_default: bool
    default: object = None


@dataclass
class Module:
    path: Path
    required_version: list[str] = field(default_factory=list)
    # name -> (source, [constraints])
    required_providers: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    variables: list[Variable] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    # (mode, type, name, provider, provider alias): mode "managed" or "data", alias "" when none
    resources: set[tuple[str, str, str, str, str]] = field(default_factory=set)
    # name -> (source, version)
    module_calls: dict[str, tuple[str, str]] = field(default_factory=dict)


def _tf_files(directory: Path) -> list[Path]:
    # Override files only patch other files (terraform-docs ignores them too).
    return sorted(
        p for p in directory.glob("*.tf") if p.name != "override.tf" and not p.name.endswith("_override.tf")
    )


def _blocks(parsed: dict, block_type: str) -> list[tuple[str, dict]]:
    """[(label, body)] for `block_type "label" { ... }` blocks in a python-hcl2 result."""
    found = []
    for entry in parsed.get(block_type, []):
        for label, body in entry.items():
            found.append((label, body))
    return found


def _two_label_blocks(parsed: dict, block_type: str) -> list[tuple[str, str, dict]]:
    found = []
    for entry in parsed.get(block_type, []):
        for first, inner in entry.items():
            for second, body in inner.items():
                found.append((first, second, body))
    return found


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _provider(resource_type: str, provider_ref: str | None) -> tuple[str, str]:
    """(local name, alias) of the provider configuration a resource uses: `provider = aws.west` or the type's prefix."""
    if provider_ref:
        name, _, alias = provider_ref.strip("${}").partition(".")
        return name, alias
    return resource_type.split("_", 1)[0], ""


def load_module(directory: Path) -> Module:
    module = Module(path=directory)
    for tf_file in _tf_files(directory):
        text = tf_file.read_text()
        parsed = hcl2.loads(text, serialization_options=_HCL_OPTIONS)

        for terraform_block in _as_list(parsed.get("terraform", [])):
            if "required_version" in terraform_block:
                module.required_version.append(terraform_block["required_version"])
            for providers in _as_list(terraform_block.get("required_providers", [])):
                for name, spec in providers.items():
                    if isinstance(spec, dict):
                        source = spec.get("source", f"hashicorp/{name}")
                        versions = [spec["version"]] if spec.get("version") else []
                    else:  # legacy `aws = "~> 5.0"`
                        source, versions = f"hashicorp/{name}", [spec]
                    module.required_providers[name] = (source, versions)

        for name, body in _blocks(parsed, "variable"):
            type_source = attribute_source(text, "variable", name, "type")
            module.variables.append(
                Variable(
                    name=name,
                    description=body.get("description", ""),
                    type=type_source if type_source is not None else _type_of_default(body.get("default")),
                    has_default="default" in body,
                    default=body.get("default"),
                )
            )

        for name, body in _blocks(parsed, "output"):
            module.outputs[name] = body.get("description", "")

        for mode, block_type in (("managed", "resource"), ("data", "data")):
            for resource_type, resource_name, body in _two_label_blocks(parsed, block_type):
                provider = _provider(resource_type, body.get("provider"))
                module.resources.add((mode, resource_type, resource_name, *provider))

        for name, body in _blocks(parsed, "module"):
            module.module_calls[name] = (body.get("source", ""), body.get("version", ""))
    return module


def _type_of_default(default) -> str:
    # terraform-docs infers a type from the default when `type` is absent.
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float)):
        return "number"
    if isinstance(default, str):
        return "string"
    if isinstance(default, list):
        return "list"
    if isinstance(default, dict):
        return "map"
    return "any"


# ----------------------------------------------------------------------------------------------------
# The source text of an attribute (types are shown as written, like terraform-docs does)
# ----------------------------------------------------------------------------------------------------


def _skip_string(text: str, i: int) -> int:
    """Index just after the string literal starting at text[i] == '"' (handles escapes and ${...})."""
    i += 1
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            depth += 1
            i += 2
            continue
        if c == "}" and depth:
            depth -= 1
        elif c == '"' and not depth:
            return i + 1
        i += 1
    return i


def _skip_comment_or_heredoc(text: str, i: int) -> int | None:
    """If a comment or heredoc starts at i, the index after it; otherwise None."""
    if text[i] == "#" or text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end == -1 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end == -1 else end + 2
    heredoc = re.match(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\n", text[i:])
    if heredoc:
        closing = re.compile(rf"^\s*{heredoc.group(1)}\s*$", re.MULTILINE)
        found = closing.search(text, i + heredoc.end())
        return len(text) if found is None else found.end()
    return None


def attribute_source(text: str, block_type: str, label: str, attribute: str) -> str | None:
    """Raw source of `attribute = <expr>` directly inside `block_type "label" { ... }`, or None."""
    header = re.search(rf'^\s*{block_type}\s+"{re.escape(label)}"\s*\{{', text, re.MULTILINE)
    if header is None:
        return None
    i, depth, line_start = header.end(), 1, False
    while i < len(text) and depth > 0:
        c = text[i]
        skipped = _skip_comment_or_heredoc(text, i)
        if skipped is not None:
            i = skipped
            continue
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == "\n":
            line_start = True
            i += 1
            continue
        elif depth == 1 and line_start and not c.isspace():
            line_start = False
            match = re.match(rf"{attribute}\s*=\s*", text[i:])
            if match:
                return _expression_at(text, i + match.end())
        i += 1
    return None


def _expression_at(text: str, start: int) -> str:
    i, depth = start, 0
    while i < len(text):
        c = text[i]
        skipped = _skip_comment_or_heredoc(text, i)
        if skipped is not None:
            if text[i] in "#/" and depth == 0:
                break  # trailing comment ends the expression
            i = skipped
            continue
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == "\n" and depth == 0:
            break
        i += 1
    return text[start:i].rstrip()


# ----------------------------------------------------------------------------------------------------
# Rendering (terraform-docs markdown table)
# ----------------------------------------------------------------------------------------------------


def _escape_name(name: str) -> str:
    return name.replace("_", "\\_")


def _anchor(kind: str, name: str) -> str:
    return f'<a name="{kind}_{name}"></a> [{_escape_name(name)}](#{kind}\\_{_escape_name(name)})'


# terraform-docs' template/sanitizer.go, with the settings its markdown table uses by default
# (escape: true, html: true). Go's regexp classes are ASCII-only, hence the explicit classes below.
_WS = r"[\t\n\f\r ]"
_NOT_WS = r"[^\t\n\f\r ]"
_KEEP = "‡‡‡DONTESCAPE‡‡‡"
# Underscores escapeCharacters leaves alone: a leading run followed by a space (a list bullet) and
# the delimiters of _emphasis_ between spaces. Byte patterns: Go indexes bytes.
_UNESCAPED_UNDERSCORES = (
    (re.compile(rf"^({_WS}*)(_+)({_WS}+)(.*)".encode()), (2,)),
    (re.compile(rf"({_WS}+)(_+)([^\t\n\f\r _])(.*)([^\t\n\f\r _])(_+)({_WS}+)".encode()), (6, 2)),
)
# xurls.Strict(), closely enough for NormalizeURLs: a scheme, then characters up to the last one a URL
# may end with (so an escaped `\|` right after a URL stays escaped).
_URL = re.compile(r"[a-zA-Z][a-zA-Z.\-+]*://[^\s<>|^`\"]*[\w/\-+&~%=#)\]}]")


def _process_segments(text: str, fence: str, normal, code) -> str:
    """processSegments: alternate between text and code split on `fence`; empty segments are skipped
    without switching (Go's behaviour, kept on purpose), code segments are re-fenced by `code`."""
    in_code = text.startswith(fence)
    rendered = []
    for segment in text.split(fence):
        if not segment:
            continue
        rendered.append(code(segment) if in_code else normal(segment))
        in_code = not in_code
    return "".join(rendered)


def _escape_underscores(line: str) -> str:
    data = line.encode()
    keep = _KEEP.encode()
    for pattern, groups in _UNESCAPED_UNDERSCORES:
        # Go computes every match first and splices with those offsets, which drift once a splice made
        # the line longer; copied as is so that lines with several _emphases_ come out the same.
        for match in list(pattern.finditer(data)):
            for group in groups:
                start, end = match.span(group)
                data = data[:start] + match.group(group).replace(b"_", keep) + data[end:]
    data = data.replace(b"_", b"\\_").replace(keep, b"_")
    return data.decode(errors="replace")


def _escape_characters(text: str) -> str:
    # Only text outside code spans is escaped: a `|` inside backticks (or a <pre>) stays as terraform-docs
    # leaves it, even though it splits the table cell.
    def fenced(segment: str) -> str:
        return f"`{segment}`"

    text = _process_segments(text, "`", lambda s: s.replace("|", "\\|"), fenced)
    return _process_segments(text, "`", lambda s: "\n".join(map(_escape_underscores, s.split("\n"))), fenced)


def _convert_multiline(text: str) -> str:
    text = text.strip()
    text = re.sub(rf"({_NOT_WS}*)(\r?\n)({_WS}*)([0-9A-Za-z_]+)", r"\1  \2\3\4", text)
    text = text.replace("    \n", "  \n").replace("  \n\n", "\n\n").replace("\n  \n", "\n\n")
    return text.replace("  \n", "<br/>").replace("\n", "<br/>")


def _normalize_urls(text: str) -> str:
    for url in _URL.findall(text):
        text = text.replace(url, url.replace("\\", ""))
    return text


def _sanitize(text: str) -> str:
    """sanitizeMarkdownTbl: `_` and `|` escaped outside code spans, line breaks as <br/>, ``` blocks as <pre>."""
    if text == "":
        return "n/a"

    def normal(segment: str) -> str:
        return _normalize_urls(_convert_multiline(_escape_characters(segment)))

    def code(segment: str) -> str:
        return "<pre>" + segment.strip().replace("\n", "<br/>").replace("\r", "") + "</pre>"

    return _process_segments(text, "```", normal, code)


def _fenced(code: str) -> str:
    """PrintFencedCodeBlock: one line in backticks, several lines in a ``` block (a <pre> once sanitized)."""
    return f"\n\n```\n{code}\n```\n" if "\n" in code else f"`{code}`"


def _description(text: str) -> str:
    return _sanitize(text.replace("\r\n", "\n"))


def _default(variable: Variable) -> str:
    if not variable.has_default:
        return "n/a"
    # Go's encoder as terraform-docs configures it: two-space indent, sorted keys, no HTML escaping.
    return _sanitize(_fenced(json.dumps(variable.default, indent=2, sort_keys=True, ensure_ascii=False)))


def _resource_version(constraints: list[str]) -> str:
    """resourceVersion: the version in a resource's registry URL; `latest` unless the last constraint pins one."""
    if not constraints:
        return "latest"
    parts = constraints[-1].split(" ")
    if len(parts) == 1 and parts[0]:
        if parts[0][0].isdigit():
            return parts[0]
        return parts[0][1:] if parts[0][0] == "=" else "latest"
    if len(parts) == 2 and parts[0] == "=":
        return parts[1]
    return "latest"


def _table(header: str, separator: str, rows: list[str]) -> list[str]:
    return [header, separator, *rows]


def render(module: Module) -> str:
    lines: list[str] = []

    lines += ["## Requirements", ""]
    requirements = [f"| {_anchor('requirement', 'terraform')} | {version} |" for version in module.required_version]
    for name in sorted(module.required_providers):
        for version in module.required_providers[name][1]:
            requirements.append(f"| {_anchor('requirement', name)} | {version} |")
    lines += _table("| Name | Version |", "|------|---------|", requirements) if requirements else ["No requirements."]

    lines += ["", "## Providers", ""]
    provider_rows = []
    for name, alias in sorted({(name, alias) for *_, name, alias in module.resources}):
        constraints = module.required_providers.get(name, ("", []))[1]
        full_name = f"{name}.{alias}" if alias else name
        provider_rows.append(f"| {_anchor('provider', full_name)} | {' '.join(constraints) or 'n/a'} |")
    lines += _table("| Name | Version |", "|------|---------|", provider_rows) if provider_rows else ["No providers."]

    lines += ["", "## Modules", ""]
    module_rows = []
    for name in sorted(module.module_calls):
        source, version = module.module_calls[name]
        # formatSource: a `?ref=` that ends the source is left in it.
        if not version and "?ref=" in source and not source.endswith("?ref="):
            source, version = source.rsplit("?ref=", 1)
        module_rows.append(f"| {_anchor('module', name)} | {source} | {version or 'n/a'} |")
    lines += (
        _table("| Name | Source | Version |", "|------|--------|---------|", module_rows) if module_rows else ["No modules."]
    )

    lines += ["", "## Resources", ""]
    resources = {}
    for mode, resource_type, name, provider, _alias in module.resources:
        short_type = resource_type.removeprefix(provider + "_")
        # terraform-docs prints the spec rebuilt from the provider name, and keeps one row per key.
        spec = f"{provider}_{short_type}.{name}"
        resources[(provider, mode, short_type, name)] = (mode, spec, short_type, provider)
    resource_rows = []
    # Managed resources first, then data sources; each sorted by spec (type.name).
    for mode, spec, short_type, provider in sorted(resources.values(), key=lambda r: (r[0] != "managed", r[1])):
        if provider in module.required_providers:
            source, constraints = module.required_providers[provider]
            version = _resource_version(constraints)
        else:  # not in required_providers: terraform-docs leaves the version segment empty
            source, version = f"hashicorp/{provider}", ""
        kind = "resources" if mode == "managed" else "data-sources"
        if source.count("/") > 1:  # a source with a registry host gets no link
            name_cell = spec
        else:
            namespace, _, provider_type = source.partition("/")
            registry = f"https://registry.terraform.io/providers/{namespace}/{provider_type or namespace}/{version}"
            name_cell = f"[{spec}]({registry}/docs/{kind}/{short_type})"
        resource_rows.append(f"| {name_cell} | {'resource' if mode == 'managed' else 'data source'} |")
    lines += _table("| Name | Type |", "|------|------|", resource_rows) if resource_rows else ["No resources."]

    lines += ["", "## Inputs", ""]
    input_rows = []
    for variable in sorted(module.variables, key=lambda v: v.name):
        required = "no" if variable.has_default else "yes"
        input_rows.append(
            f"| {_anchor('input', variable.name)} | {_description(variable.description)} "
            f"| {_sanitize(_fenced(variable.type))} | {_default(variable)} | {required} |"
        )
    lines += (
        _table(
            "| Name | Description | Type | Default | Required |", "|------|-------------|------|---------|:--------:|", input_rows
        )
        if input_rows
        else ["No inputs."]
    )

    lines += ["", "## Outputs", ""]
    output_rows = [
        f"| {_anchor('output', name)} | {_description(module.outputs[name])} |" for name in sorted(module.outputs)
    ]
    lines += _table("| Name | Description |", "|------|-------------|", output_rows) if output_rows else ["No outputs."]

    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------
# READMEs
# ----------------------------------------------------------------------------------------------------


def _has_markers(readme: Path) -> bool:
    return readme.is_file() and BEGIN in readme.read_text() and END in readme.read_text()


def discover(root: Path = REPO_ROOT) -> list[Path]:
    """Every directory whose README must carry the generated tables."""
    found = set()
    for pattern in REQUIRED_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_dir() and _tf_files(p))
    for pattern in OPT_IN_GLOBS:
        found.update(p for p in root.glob(pattern) if p.is_dir() and _tf_files(p) and _has_markers(p / "README.md"))
    return sorted(found)


def updated_readme(directory: Path) -> tuple[str | None, str]:
    """(current README text or None, README text with fresh tables)."""
    readme = directory / "README.md"
    block = f"{BEGIN}\n{render(load_module(directory))}{END}"
    if not readme.is_file():
        return None, f"# {directory.name}\n\n{block}\n"
    current = readme.read_text()
    start, end = current.find(BEGIN), current.find(END)
    if start == -1 or end == -1 or end < start:
        return current, current.rstrip("\n") + "\n\n" + block + "\n"
    return current, current[:start] + block + current[end + len(END) :]


def check(directories: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """One message per README that is missing, unmarked or stale (empty when all are current)."""
    problems = []
    for directory in directories:
        relative = directory.relative_to(root) if directory.is_relative_to(root) else directory
        current, wanted = updated_readme(directory)
        if current is None:
            problems.append(f"{relative}/README.md is missing; run `make docs` (python -m harness.tfdocs --write)")
        elif BEGIN not in current or END not in current:
            problems.append(f"{relative}/README.md has no {BEGIN} ... {END} block; run `make docs`")
        elif current != wanted:
            diff = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True), wanted.splitlines(keepends=True),
                    f"{relative}/README.md", f"{relative}/README.md (generated)", n=1,
                )
            )
            problems.append(f"{relative}/README.md is out of date; run `make docs`:\n{diff}")
    return problems


def write(directories: list[Path]) -> list[Path]:
    changed = []
    for directory in directories:
        current, wanted = updated_readme(directory)
        if current != wanted:
            (directory / "README.md").write_text(wanted)
            changed.append(directory)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tfdocs", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated block of every README")
    mode.add_argument("--check", action="store_true", help="fail (exit 1) when any README is missing or stale")
    parser.add_argument("paths", nargs="*", type=Path, help="module/root directories (default: all discovered)")
    args = parser.parse_args(argv)

    directories = [p.resolve() for p in args.paths] if args.paths else discover()
    if args.check:
        problems = check(directories)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"tfdocs: {len(directories) - len(problems)}/{len(directories)} READMEs up to date", file=sys.stderr)
        return 1 if problems else 0
    for directory in write(directories):
        print(f"tfdocs: updated {directory.relative_to(REPO_ROOT) if directory.is_relative_to(REPO_ROOT) else directory}/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
