"""The stand-in plugin process: `python -m harness.provider_standin.server helm` (Terraform starts it).

Serves one provider's transcribed schema over Terraform's plugin protocol 6 with the PyPI `tf` package
(its handshake, gRPC server and msgpack codec), and validation only; see the package docstring.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tf.provider
from tf.gen import tfplugin_pb2 as pb
from tf.runner import run_provider
from tf.types import Unknown
from tf.utils import Diagnostics, read_dynamic_value

from harness.provider_standin import STANDIN_VERSIONS

SCHEMAS_DIR = Path(__file__).parent / "schemas"
NOT_A_PROVIDER = (
    "This is the schema-only stand-in for {address} {version} (harness/provider_standin), installed because "
    "the public Terraform registry was not reachable. It validates configuration against the provider's "
    "real schema and cannot {operation}. Run this on a machine that reaches registry.terraform.io (or set "
    "TF_PROVIDER_STANDIN=0) so Terraform installs the real provider."
)
_NESTING = {"single": pb.Schema.Object.SINGLE, "list": pb.Schema.Object.LIST, "set": pb.Schema.Object.SET,
            "map": pb.Schema.Object.MAP}


_BLOCK_NESTING = {"single": pb.Schema.NestedBlock.SINGLE, "list": pb.Schema.NestedBlock.LIST,
                  "set": pb.Schema.NestedBlock.SET, "map": pb.Schema.NestedBlock.MAP}
# What each SDK says when a computed-only attribute is set (Terraform core accepts it; the provider refuses):
# terraform-plugin-framework internal/fwschemadata, terraform-plugin-sdk/v2 helper/schema/schema.go.
READ_ONLY = {
    "framework": ("Invalid Configuration for Read-Only Attribute",
                  "Cannot set value for this attribute as the provider has marked it as read-only. Remove the "
                  "configuration line setting the value."),
    "sdkv2": ("Value for unconfigurable attribute",
              "Can't configure a value for {name}: its value will be decided automatically based on the result "
              "of applying this configuration."),
}


def load_document(name: str) -> dict:
    """The `terraform providers schema -json`-shaped document for one stand-in provider."""
    return json.loads((SCHEMAS_DIR / f"{name}-{STANDIN_VERSIONS[name]}.json").read_text())


def _attribute_pb(name: str, spec: dict) -> pb.Schema.Attribute:
    fields = {flag: True for flag in ("required", "optional", "computed", "sensitive", "deprecated") if spec.get(flag)}
    if "nested_type" in spec:
        nested = spec["nested_type"]
        fields["nested_type"] = pb.Schema.Object(
            attributes=[_attribute_pb(n, s) for n, s in sorted(nested["attributes"].items())],
            nesting=_NESTING[nested["nesting_mode"]])
    else:
        fields["type"] = json.dumps(spec["type"]).encode()
    return pb.Schema.Attribute(name=name, description=spec.get("description", ""), description_kind=pb.PLAIN,
                               **fields)


def _block_pb(block: dict) -> pb.Schema.Block:
    return pb.Schema.Block(
        attributes=[_attribute_pb(n, s) for n, s in sorted(block["attributes"].items())],
        block_types=[pb.Schema.NestedBlock(type_name=n, block=_block_pb(b["block"]), nesting=_BLOCK_NESTING[b["nesting_mode"]],
                                           min_items=b.get("min_items", 0), max_items=b.get("max_items", 0))
                     for n, b in sorted(block.get("block_types", {}).items())],
        description=block.get("description", ""), description_kind=pb.PLAIN)


def schema_pb(schema: dict) -> pb.Schema:
    return pb.Schema(version=schema.get("version", 0), block=_block_pb(schema["block"]))


def _render_path(path: list) -> str:
    return "".join(f"[{step[0]}]" if isinstance(step, tuple) else (f".{step}" if i else step)
                   for i, step in enumerate(path))


def _elements(nesting_mode: str, value) -> list:
    """(key, element) pairs of a nested value: None for a single object, an index or a map key otherwise."""
    if value is None or value is Unknown:
        return []
    if nesting_mode == "single":
        return [(None, value)]
    return list(value.items()) if nesting_mode == "map" else list(enumerate(value))


def check_config(diags: Diagnostics, block: dict, config, sdk: str, path: list | None = None) -> None:
    """What the provider itself checks in a (possibly partly unknown) configuration, beyond Terraform core.

    Computed-only attributes set in configuration, with each SDK's own message, and the framework
    validators recorded in the schema, with terraform-plugin-framework-validators' messages
    (stringvalidator.OneOf, LengthBetween, int64validator.AtLeast), so a user sees what the provider says.
    """
    path = path or []
    if not isinstance(config, dict):
        return
    for name, spec in block["attributes"].items():
        value = config.get(name)
        if value is None or value is Unknown:
            continue
        here = path + [name]
        where = _render_path(here)
        if spec.get("computed") and not (spec.get("optional") or spec.get("required")):
            summary, detail = READ_ONLY[sdk]
            diags.add_error(summary, detail.format(name=json.dumps(name)), path=here)  # Go's %q
        for validator in spec.get("validators", ()):
            if "one_of" in validator and value not in validator["one_of"]:
                allowed = " ".join(json.dumps(json.dumps(v)) for v in validator["one_of"])
                diags.add_error("Invalid Attribute Value Match",
                                f"Attribute {where} value must be one of: [{allowed}], got: {json.dumps(value)}",
                                path=here)
            if "length_between" in validator:
                low, high = validator["length_between"]
                if not low <= len(value) <= high:
                    diags.add_error("Invalid Attribute Value Length",
                                    f"Attribute {where} string length must be between {low} and {high}, got: {len(value)}",
                                    path=here)
            if "at_least" in validator and value < validator["at_least"]:
                diags.add_error("Invalid Attribute Value",
                                f"Attribute {where} value must be at least {validator['at_least']}, got: {value}",
                                path=here)
        nested = spec.get("nested_type")
        if nested:
            for key, element in _elements(nested["nesting_mode"], value):
                check_config(diags, {"attributes": nested["attributes"]}, element, sdk,
                             here + ([] if key is None else [(key,)]))
    for name, nested_block in block.get("block_types", {}).items():
        for key, element in _elements(nested_block["nesting_mode"], config.get(name)):
            check_config(diags, nested_block["block"], element, sdk, path + [name] + ([] if key is None else [(key,)]))


class StandinServicer(tf.provider.ProviderServicer):
    """The `tf` package's servicer with the stand-in's schema, validators, and refusals."""

    def __init__(self, app: StandinProvider):
        super().__init__(app)
        self.standin = app

    def _refuse(self, response_type, operation: str):
        diags = Diagnostics().add_error(
            f"{self.standin.address} stand-in cannot {operation}",
            NOT_A_PROVIDER.format(address=self.standin.address, version=self.standin.version, operation=operation))
        return response_type(diagnostics=diags.to_pb())

    def GetProviderSchema(self, request, context):
        schemas = self.standin.schemas
        return pb.GetProviderSchema.Response(
            provider=schema_pb(schemas["provider"]),
            provider_meta=pb.Schema(block=pb.Schema.Block()),
            resource_schemas={n: schema_pb(s) for n, s in schemas.get("resource_schemas", {}).items()},
            data_source_schemas={n: schema_pb(s) for n, s in schemas.get("data_source_schemas", {}).items()},
        )

    def _validate(self, response_type, schema: dict, request_config):
        diags = Diagnostics()
        check_config(diags, schema["block"], read_dynamic_value(request_config), self.standin.sdk)
        return response_type(diagnostics=diags.to_pb())

    def ValidateProviderConfig(self, request, context):
        return self._validate(pb.ValidateProviderConfig.Response, self.standin.schemas["provider"], request.config)

    def ValidateResourceConfig(self, request, context):
        schema = self.standin.schemas["resource_schemas"][request.type_name]
        return self._validate(pb.ValidateResourceConfig.Response, schema, request.config)

    def ValidateDataResourceConfig(self, request, context):
        schema = self.standin.schemas["data_source_schemas"][request.type_name]
        return self._validate(pb.ValidateDataResourceConfig.Response, schema, request.config)

    def ConfigureProvider(self, request, context):
        # Terraform configures providers before planning; refusing here stops a plan at its first step.
        return self._refuse(pb.ConfigureProvider.Response, "connect to a cluster (configure)")

    def PlanResourceChange(self, request, context):
        return self._refuse(pb.PlanResourceChange.Response, f"plan {request.type_name}")

    def ApplyResourceChange(self, request, context):
        return self._refuse(pb.ApplyResourceChange.Response, f"apply {request.type_name}")

    def ReadResource(self, request, context):
        return self._refuse(pb.ReadResource.Response, f"read {request.type_name}")

    def ReadDataSource(self, request, context):
        return self._refuse(pb.ReadDataSource.Response, f"read data source {request.type_name}")

    def ImportResourceState(self, request, context):
        return self._refuse(pb.ImportResourceState.Response, f"import {request.type_name}")

    def UpgradeResourceState(self, request, context):
        return self._refuse(pb.UpgradeResourceState.Response, f"upgrade the state of {request.type_name}")


class StandinProvider:
    """The `tf.iface.Provider` the runner expects; the servicer above answers every call itself."""

    def __init__(self, name: str):
        self.name = name
        self.version = STANDIN_VERSIONS[name]
        self.address = f"registry.terraform.io/hashicorp/{name}"
        document = load_document(name)
        self.sdk = document["sdk"]
        self.schemas = document["provider_schemas"][self.address]

    def full_name(self) -> str:
        return self.address

    def get_model_prefix(self) -> str:
        return f"{self.name}_"

    def get_data_sources(self) -> list:
        return []

    def get_resources(self) -> list:
        return []

    def get_functions(self) -> list:
        return []


def main(argv: list[str]) -> None:
    provider = StandinProvider(argv[1])
    # tf.runner.run_provider builds its servicer from tf.provider.ProviderServicer; ours answers for it.
    tf.provider.ProviderServicer = lambda app: StandinServicer(provider)
    run_provider(provider, argv[:1] + argv[2:])


if __name__ == "__main__":
    main(sys.argv)
