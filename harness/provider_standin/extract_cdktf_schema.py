"""Derive the kubernetes stand-in's schema from the npm package @cdktf/provider-kubernetes (bindings of 2.38.0).

    npm pack @cdktf/provider-kubernetes@12.1.1 && tar xzf cdktf-provider-kubernetes-12.1.1.tgz
    python -m harness.provider_standin.extract_cdktf_schema package/

HashiCorp generated these bindings from `terraform providers schema -json` of hashicorp/kubernetes 2.38.0
(package.json's `cdktf.provider.version`; every class names `providerVersion: '2.38.0'`). The generator's
output is regular, so the schema reads back mechanically:
- each resource / data source / provider class's `synthesizeHclAttributes()` and each struct's
  `<struct>ToHclTerraform()` list the configurable arguments with `isBlock`, `type` and
  `storageClassType`; a list block rendered without `listMapperHcl` is the SDK's MaxItems 1;
- the TypeScript Config interfaces (`index.d.ts`) say which arguments are required (no `?`);
- getters with no configurable counterpart are computed-only attributes; their type is the getter's
  (`getStringAttribute` ...), or the struct they return, which the SDK serves as a list of objects.
hashicorp/kubernetes 2.x is an SDKv2 provider, so every nested configurable value is a *block*
(`metadata { }`, `exec { }`), never a nested attribute.
Lost in the bindings (so not in the stand-in): `sensitive` flags, and which optional arguments are also
computed; neither changes what `terraform validate` accepts.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SCHEMAS_DIR = Path(__file__).parent / "schemas"
PACKAGE = "@cdktf/provider-kubernetes"
# The one fact the bindings lose that validate enforces, from the provider's source
# (hashicorp/terraform-provider-kubernetes tag v2.38.0, kubernetes/provider.go: "exec" and "experiments"
# are TypeList with MaxItems: 1).
PROVIDER_MAX_ITEMS = {"exec": 1, "experiments": 1}
_ENTRY = re.compile(r'(\w+): \{\s*value: (.+?),\s*isBlock: (true|false),\s*type: "(\w+)",\s*storageClassType: "(\w+)",\s*\}')
_SCALAR = {"string": "string", "boolean": "bool", "number": "number"}
_GETTER_TYPE = {"getStringAttribute": "string", "getNumberAttribute": "number", "getBooleanAttribute": "bool",
                "getListAttribute": ["list", "string"], "getNumberListAttribute": ["list", "number"],
                "getStringMapAttribute": ["map", "string"], "getNumberMapAttribute": ["map", "number"],
                "getBooleanMapAttribute": ["map", "bool"], "getAnyMapAttribute": ["map", "dynamic"]}

_CDKTF_COLLECTIONS = {"StringMap": ["map", "string"], "NumberMap": ["map", "number"], "BooleanMap": ["map", "bool"],
                      "AnyMap": ["map", "dynamic"], "StringMapList": ["list", ["map", "string"]]}


class Bindings:
    def __init__(self, package: Path):
        self.classes: dict[str, str] = {}
        self.bases: dict[str, str] = {}
        self.hcl_functions: dict[str, str] = {}
        self.interfaces: dict[str, dict[str, bool]] = {}
        for path in sorted((package / "lib").rglob("*.js")):
            text = path.read_text()
            for match in re.finditer(r"^class (\w+) extends ([\w.]+) \{\n(.*?)^\}", text, re.M | re.S):
                self.bases[match.group(1)] = match.group(2)
                self.classes[match.group(1)] = match.group(3)
            for match in re.finditer(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}", text, re.M | re.S):
                self.hcl_functions[match.group(1)] = match.group(2)
        for path in sorted((package / "lib").rglob("*.d.ts")):
            for match in re.finditer(r"^export interface (\w+)(?: extends [\w.]+)? \{\n(.*?)^\}", path.read_text(),
                                     re.M | re.S):
                fields = re.findall(r"^    readonly (\w+)(\??):", match.group(2), re.M)
                self.interfaces[match.group(1)] = {name: optional == "" for name, optional in fields}

    def block(self, entries_text: str, body: str, interface: str) -> dict:
        required_by_field = self.interfaces[interface]
        attributes, block_types = {}, {}
        for name, value, is_block, kind, storage in _ENTRY.findall(entries_text):
            camel = re.findall(r"(?:struct|this)\.(?:_)?(\w+)", value)[-1]
            if camel == "internalValue":
                camel = re.findall(r"this\._(\w+)\.internalValue", value)[-1]
            required = required_by_field.get(camel, False)
            if is_block == "true":
                struct = re.search(r"(\w+)ToHclTerraform", value).group(1)
                struct_name = struct[0].upper() + struct[1:]
                nested = self.block(self.hcl_functions[struct], self.classes.get(f"{struct_name}OutputReference", ""),
                                    struct_name)
                spec = {"nesting_mode": {"struct": "single", "list": "list", "set": "set"}[kind], "block": nested}
                if kind != "struct":
                    if required:
                        spec["min_items"] = 1
                    if "listMapperHcl" not in value:
                        spec["max_items"] = 1
                block_types[name] = spec
                continue
            if storage == "anyMap":  # cdktf's rendering of DynamicPseudoType (kubernetes_manifest's manifest)
                attribute_type = "dynamic"
            elif kind == "simple":
                attribute_type = _SCALAR[storage]
            else:
                element = re.fullmatch(r"(string|number|boolean)(List|Map)", storage)
                if not element:
                    raise ValueError(f"{interface}.{name}: storage class {storage} is not handled")
                attribute_type = [kind, _SCALAR[element.group(1)]]
            attributes[name] = {"type": attribute_type, ("required" if required else "optional"): True,
                                "description_kind": "plain"}
        for name, attribute_type in self.computed_only(body, set(attributes) | set(block_types)).items():
            attributes[name] = {"type": attribute_type, "computed": True, "description_kind": "plain"}
        return {"attributes": attributes, "block_types": block_types, "description_kind": "plain"}

    def computed_only(self, body: str, configurable: set[str]) -> dict:
        """Getters of a class that no argument sets, with their types."""
        found = {}
        for method, snake in re.findall(r"get \w+\(\) \{\s*return this\.(get\w+Attribute)\('(\w+)'\);", body):
            if snake not in configurable:
                found[snake] = _GETTER_TYPE[method]
        for module, struct_class, snake, from_set in re.findall(
                r'this\._\w+ = new (\w+\.)?(\w+)\(this, "(\w+)"(?:, (true|false))?\)', body):
            if snake in configurable:
                continue
            if module == "cdktf.":  # the library's own computed collections
                found[snake] = _CDKTF_COLLECTIONS[struct_class]
                continue
            element = struct_class[:-len("List")] if struct_class.endswith("List") else struct_class[:-len("OutputReference")]
            found[snake] = ["set" if from_set == "true" else "list", ["object", self.object_type(element)]]
        return found

    def object_type(self, struct_name: str) -> dict:
        body = self.classes[f"{struct_name}OutputReference"]
        return {snake: attribute_type for snake, attribute_type in self.computed_only(body, set()).items()}

    def top_level(self, class_name: str) -> dict:
        body = self.classes[class_name]
        entries = re.search(r"synthesizeHclAttributes\(\) \{\n(.*?)\n    \}", body, re.S).group(1)
        return self.block(entries, body, f"{class_name}Config")


def extract(package: Path) -> dict:
    bindings = Bindings(package)
    manifest = json.loads((package / "package.json").read_text())
    version = manifest["cdktf"]["provider"]["version"]
    schemas: dict = {"resource_schemas": {}, "data_source_schemas": {}}
    for class_name, body in bindings.classes.items():
        kind = re.search(r"terraformResourceType: '(\w+)'", body)
        if not kind or "synthesizeHclAttributes" not in body:
            continue
        schema = {"version": 0, "block": bindings.top_level(class_name)}
        section = {"cdktf.TerraformProvider": None, "cdktf.TerraformDataSource": "data_source_schemas",
                   "cdktf.TerraformResource": "resource_schemas"}[bindings.bases[class_name]]
        if section is None:
            for name, limit in PROVIDER_MAX_ITEMS.items():  # cdktf renders every provider block as an array
                schema["block"]["block_types"][name]["max_items"] = limit
            schemas["provider"] = schema
        else:
            schemas[section][kind.group(1)] = schema
    return {
        "format_version": "1.0",
        "sdk": "sdkv2",  # which SDK's messages the stand-in repeats (server.check_config)
        "source": f"npm {PACKAGE}@{manifest['version']} (bindings generated from hashicorp/kubernetes {version})",
        "generated_by": "python -m harness.provider_standin.extract_cdktf_schema",
        "provider_version": version,
        "provider_schemas": {"registry.terraform.io/hashicorp/kubernetes": schemas},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    document = extract(Path(argv[0]))
    target = SCHEMAS_DIR / f"kubernetes-{document['provider_version']}.json"
    target.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n")
    schemas = document["provider_schemas"]["registry.terraform.io/hashicorp/kubernetes"]
    print(f"wrote {target}: {len(schemas['resource_schemas'])} resources, {len(schemas['data_source_schemas'])} data sources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
