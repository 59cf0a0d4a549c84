"""YAML emission (short-form intrinsics, stable key order) and the matching loader.

The emitter keeps the insertion order of the dicts the generators build, so output is a pure
function of the app: compiling twice gives byte-identical files. No anchors/aliases are ever
written and lines are not folded, so diffs stay readable.
"""

from __future__ import annotations

import yaml

from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub

_SHORT_TAGS = frozenset({"!Ref", "!GetAtt", "!Sub"})


class _Dumper(yaml.SafeDumper):
    """SafeDumper with intrinsic tags, indented block sequences and no aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent "- item" under its key (the usual CloudFormation style).
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        event = self.event
        assert isinstance(event, yaml.ScalarEvent)
        if self.analysis is None:
            self.analysis = self.analyze_scalar(event.value)
        analysis = self.analysis
        if event.tag in _SHORT_TAGS and analysis.allow_block_plain and not analysis.empty and not analysis.multiline:
            return ""  # !Ref Table, not !Ref 'Table'
        style = str(super().choose_scalar_style())
        if style == "'" and "'" in event.value and '"' not in event.value and "\\" not in event.value:
            return '"'  # "step 'x'" reads better than the doubled single quotes
        return style


def _ref(dumper: yaml.SafeDumper, value: Ref) -> yaml.Node:
    return dumper.represent_scalar("!Ref", value.name)


def _getatt(dumper: yaml.SafeDumper, value: GetAtt) -> yaml.Node:
    return dumper.represent_scalar("!GetAtt", f"{value.resource}.{value.attribute}")


def _sub(dumper: yaml.SafeDumper, value: Sub) -> yaml.Node:
    return dumper.represent_scalar("!Sub", value.template)


_Dumper.add_representer(Ref, _ref)
_Dumper.add_representer(GetAtt, _getatt)
_Dumper.add_representer(Sub, _sub)


def dump_yaml(template: dict[str, object], *, header: str = "") -> str:
    """Serialise ``template`` as YAML, preceded by ``header`` lines turned into ``#`` comments."""
    body = yaml.dump(
        template,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,
        indent=2,
    )
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body


class _Loader(yaml.SafeLoader):
    """SafeLoader that turns short-form intrinsics (``!Ref``, ``!GetAtt``, ``!Sub``, ...) into long form.

    Dates stay strings (``AWSTemplateFormatVersion: 2010-09-09`` unquoted is common).
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has only these node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(text: str) -> dict[str, object]:
    """Parse a CloudFormation/SAM YAML template into long-form JSON-compatible data."""
    data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("a template must be a YAML mapping")
    return data
