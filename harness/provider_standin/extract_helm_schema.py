"""Derive the helm stand-in's schema from hashicorp/terraform-provider-helm's own Go source, at a tag.

    python -m harness.provider_standin.extract_helm_schema GIT_DIR [TAG]

GIT_DIR is a clone of https://github.com/hashicorp/terraform-provider-helm (bare is fine); TAG defaults to
the pinned version's tag. The script reads, with `git show TAG:FILE`, the three schema functions of the
plugin-framework provider (helm/provider.go `(*HelmProvider).Schema`, helm/resource_helm_release.go
`(*HelmRelease).Schema`, helm/data_helm_template.go `(*HelmTemplate).Schema`), parses their Go composite
literals, and writes schemas/helm-<version>.json in the shape `terraform providers schema -json` prints
(format_version 1.0), plus, per attribute, the framework validators it can state exactly (`validators`).

It is mechanical on purpose: no attribute is typed in by hand, so a new pin is one re-run and a diff.
Helm 3.x is a terraform-plugin-framework provider with no `Blocks:` anywhere in its schema (checked
below): every nested value is a nested *attribute* (`kubernetes = { ... }`, `set = [ { ... } ]`), which is
exactly what makes Terraform reject helm 2.x's `kubernetes { }` and `set_sensitive { }` blocks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PINNED_TAG = "v3.1.1"
SOURCE_REPO = "https://github.com/hashicorp/terraform-provider-helm"
SCHEMAS_DIR = Path(__file__).parent / "schemas"
# (file, Go receiver whose Schema method we read, where it goes in the output)
SCHEMA_FUNCTIONS = [
    ("helm/provider.go", "HelmProvider", ("provider", None)),
    ("helm/resource_helm_release.go", "HelmRelease", ("resource_schemas", "helm_release")),
    ("helm/data_helm_template.go", "HelmTemplate", ("data_source_schemas", "helm_template")),
]

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\])*"|`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}()\[\],:+&*=.-])
""", re.S | re.X)


def tokenize(source: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if not match:
            raise SyntaxError(f"cannot tokenize Go source at: {source[position:position + 40]!r}")
        position = match.end()
        if match.lastgroup != "ws":
            tokens.append((match.lastgroup, match.group()))
    return tokens


class Parser:
    """Just enough of Go's expression grammar for schema literals: composites, calls, strings, idents."""

    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def peek(self, offset=0):
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else ("eof", "")

    def take(self, value=None):
        token = self.peek()
        if value is not None and token[1] != value:
            raise SyntaxError(f"expected {value!r}, found {token[1]!r} near token {self.i}")
        self.i += 1
        return token

    def expression(self):
        value = self.operand()
        while self.peek()[1] == "+":  # string concatenation in descriptions
            self.take("+")
            right = self.operand()
            value = value + right if isinstance(value, str) and isinstance(right, str) else ("expr",)
        return value

    def operand(self):
        kind, text = self.peek()
        if kind == "string":
            self.take()
            return json.loads(text) if text.startswith('"') else text[1:-1]
        if kind == "number":
            self.take()
            return float(text) if "." in text else int(text)
        if text in ("&", "*"):
            self.take()
            return self.operand()
        if text == "[":  # []T{...}
            self.take("[")
            self.take("]")
            type_name = self.type_name()
            return ("list", type_name, self.composite_body())
        if text == "map":  # map[string]T{...}
            self.take()
            self.take("[")
            self.type_name()
            self.take("]")
            type_name = self.type_name()
            return ("map", type_name, self.composite_body())
        if kind == "ident":
            self.take()
            if text in ("true", "false"):
                return text == "true"
            if self.peek()[1] == "{":
                return ("composite", text, self.composite_body())
            value = ("call", text, self.arguments()) if self.peek()[1] == "(" else ("ident", text)
            # Postfix forms whose value the schema never needs (defaults): x["k"].(bool), f().g()
            while self.peek()[1] in (".", "["):
                if self.take()[1] == "[":
                    self.expression()
                    self.take("]")
                elif self.peek()[1] == "(":
                    self.take("(")
                    self.type_name()
                    self.take(")")
                else:  # method chains: path.Root("a").AtName("b").Expression()
                    name = self.take()[1]
                    value = ("call", f"{value[1]}().{name}", self.arguments() if self.peek()[1] == "(" else [])
            return value
        raise SyntaxError(f"unexpected {text!r} at token {self.i}")

    def arguments(self) -> list:
        self.take("(")
        args = []
        while self.peek()[1] != ")":
            args.append(self.expression())
            if self.peek()[1] == ",":
                self.take(",")
        self.take(")")
        return args

    def type_name(self):
        parts = []
        while self.peek()[1] in ("[", "]", "*") or self.peek()[0] == "ident":
            parts.append(self.take()[1])
            if parts[-1] not in ("[", "]", "*"):
                break
        return "".join(parts)

    def composite_body(self):
        """`{ key: value, ... }` → dict, or `{ value, ... }` → list."""
        self.take("{")
        keyed, items = {}, []
        while self.peek()[1] != "}":
            first = self.expression()
            if self.peek()[1] == ":":
                self.take(":")
                key = first[1] if isinstance(first, tuple) and first[0] == "ident" else first
                keyed[key] = self.expression()
            else:
                items.append(first)
            if self.peek()[1] == ",":
                self.take(",")
        self.take("}")
        return keyed if keyed or not items else items


def go_function_body(source: str, signature: str) -> str:
    """The text of a Go function's body, found by its signature's start."""
    # gofmt ends every function header with " {" and a newline, whatever its receiver and results.
    open_brace = source.index("{\n", source.index(signature))
    depth, position = 0, open_brace
    while True:
        char = source[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return source[open_brace + 1:position]
        elif char in "\"`":
            closing = source.index(char, position + 1) if char == "`" else re.compile(r'(?<!\\)"').search(
                source, position + 1).start()
            position = closing
        position += 1


class Extractor:
    def __init__(self, sources: dict[str, str]):
        self.sources = sources
        self.all_source = "\n".join(sources.values())

    def helper(self, name: str):
        """A helper like `kubernetesResourceSchema()` returning `map[string]schema.Attribute{...}`."""
        body = go_function_body(self.all_source, f"func {name}(")
        parser = Parser(tokenize(body))
        parser.take("return")
        return parser.expression()

    def attributes(self, value) -> dict:
        if isinstance(value, tuple) and value[0] == "call":
            value = self.helper(value[1])
        assert value[0] == "map", value
        return {name: self.attribute(name, spec) for name, spec in value[2].items()}

    def attribute(self, name: str, spec) -> dict:
        if spec[0] == "call" and spec[1] == "timeouts.Attributes":
            # terraform-plugin-framework-timeouts: an optional single nested attribute of duration strings;
            # a resource names the operations in timeouts.Opts, a data source has only "read".
            options = spec[2][1][2] if len(spec[2]) > 1 else {"Read": True}
            operations = [op.lower() for op in ("Create", "Read", "Update", "Delete") if options.get(op)]
            return {"nested_type": {"nesting_mode": "single", "attributes": {
                op: {"type": "string", "optional": True, "description_kind": "plain"} for op in operations}},
                "optional": True, "description_kind": "plain"}
        assert spec[0] == "composite", (name, spec)
        kind = spec[1].split(".")[-1]
        fields = spec[2]
        out: dict = {}
        scalar = {"StringAttribute": "string", "BoolAttribute": "bool", "Int64Attribute": "number",
                  "Float64Attribute": "number", "NumberAttribute": "number"}
        if kind in scalar:
            out["type"] = scalar[kind]
        elif kind in ("ListAttribute", "SetAttribute", "MapAttribute"):
            out["type"] = [kind[:-len("Attribute")].lower(), self.element_type(fields["ElementType"])]
        elif kind == "SingleNestedAttribute":
            out["nested_type"] = {"nesting_mode": "single", "attributes": self.attributes(fields["Attributes"])}
        elif kind in ("ListNestedAttribute", "SetNestedAttribute", "MapNestedAttribute"):
            nested = fields["NestedObject"][2]["Attributes"]
            out["nested_type"] = {"nesting_mode": kind[:-len("NestedAttribute")].lower(),
                                  "attributes": self.attributes(nested)}
        else:
            raise ValueError(f"{name}: attribute kind {kind} is not handled; extend the extractor")
        if isinstance(fields.get("Description"), str):
            out["description"] = fields["Description"]
            out["description_kind"] = "plain"
        for flag in ("Required", "Optional", "Computed", "Sensitive", "WriteOnly"):
            if fields.get(flag) is True:
                out["write_only" if flag == "WriteOnly" else flag.lower()] = True
        if isinstance(fields.get("DeprecationMessage"), str):
            out["deprecated"] = True
        validators = [v for v in (self.validator(call) for call in fields.get("Validators", ("list", "", []))[2]) if v]
        if validators:
            out["validators"] = validators
        return out

    def element_type(self, value):
        if value[0] == "ident":
            return {"types.StringType": "string", "types.BoolType": "bool", "types.Int64Type": "number",
                    "types.Float64Type": "number", "types.NumberType": "number"}[value[1]]
        if value[0] == "composite":
            kind = value[1].split(".")[-1][:-len("Type")].lower()
            return [kind, self.element_type(value[2]["ElemType"])]
        raise ValueError(f"element type {value} is not handled")

    @staticmethod
    def validator(call):
        """The validators whose meaning is fully in their arguments; others (ConflictsWith...) are skipped."""
        if call[0] != "call":
            return None
        name, args = call[1].split(".")[-1], call[2]
        if name == "OneOf" and all(isinstance(a, str) for a in args):
            return {"one_of": args}
        if name == "LengthBetween":
            return {"length_between": args}
        if name == "LengthAtMost":
            return {"length_between": [0, args[0]]}
        if name == "AtLeast":
            return {"at_least": args[0]}
        return None

    def schema(self, receiver: str) -> dict:
        for text in self.sources.values():
            match = re.search(rf"func \(\w+ \*{receiver}\) Schema\(", text)
            if match:
                body = go_function_body(text, match.group())
                break
        else:
            raise ValueError(f"no Schema method on {receiver}")
        parser = Parser(tokenize(body))
        while parser.peek()[1] != "=":
            parser.take()
        parser.take("=")
        literal = parser.expression()
        fields = literal[2]
        if "Blocks" in fields:
            raise ValueError(f"{receiver} declares Blocks: the extractor only maps attributes; extend it")
        block = {"attributes": self.attributes(fields["Attributes"]), "description_kind": "plain"}
        if isinstance(fields.get("Description"), str):
            block["description"] = fields["Description"]
        return {"version": fields.get("Version", 0), "block": block}


def extract(git_dir: str, tag: str = PINNED_TAG) -> dict:
    sources = {path: subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                                    capture_output=True, text=True).stdout for path, _, _ in SCHEMA_FUNCTIONS}
    extractor = Extractor(sources)
    provider: dict = {"resource_schemas": {}, "data_source_schemas": {}}
    for _path, receiver, (section, type_name) in SCHEMA_FUNCTIONS:
        schema = extractor.schema(receiver)
        if type_name is None:
            provider[section] = schema
        else:
            provider[section][type_name] = schema
    return {
        "format_version": "1.0",
        "sdk": "framework",  # which SDK's messages the stand-in repeats (server.check_config)
        "source": f"{SOURCE_REPO} tag {tag}: " + ", ".join(f"{p} (*{r}).Schema" for p, r, _ in SCHEMA_FUNCTIONS),
        "generated_by": "python -m harness.provider_standin.extract_helm_schema",
        "provider_schemas": {"registry.terraform.io/hashicorp/helm": provider},
    }


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    tag = argv[1] if len(argv) > 1 else PINNED_TAG
    document = extract(argv[0], tag)
    target = SCHEMAS_DIR / f"helm-{tag.lstrip('v')}.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
