"""An offline check of a ROS template against the ROS CDK's resource definitions (:mod:`rosschema`).

What it finds, each as one line naming the resource and the property:
- a resource type that does not exist, a property the type does not accept (also inside structured
  properties), a required property that is missing;
- a ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` reference to nothing declared (or to an attribute the type
  does not have), a ``DependsOn`` or ``Condition`` naming nothing;
- a parameter nothing uses.
Values inside intrinsic functions are not type-checked (ROS resolves them at deploy time); both
branches of an ``Fn::If`` are checked.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Dict, Iterator, List, Mapping, Tuple

from .rosschema import ResourceType, Struct

PSEUDO = {"ALIYUN::Region", "ALIYUN::AccountId", "ALIYUN::StackName", "ALIYUN::StackId", "ALIYUN::NoValue",
          "ALIYUN::TenantId"}
TOP_LEVEL = {"ROSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions",
             "Resources", "Outputs", "Rules", "Locals", "Workspace"}
RESOURCE_KEYS = {"Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy", "Count"}
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def is_intrinsic(node: Any) -> bool:
    if not isinstance(node, dict) or len(node) != 1:
        return False
    key = next(iter(node))
    return key == "Ref" or key.startswith("Fn::")


def _hint(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _walk(node: Any, path: str) -> Iterator[Tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def check(template: Mapping[str, Any], types: Mapping[str, ResourceType]) -> List[str]:
    """Every problem found in ``template`` (empty: it passes)."""
    errors: List[str] = []
    for key in template:
        if key not in TOP_LEVEL:
            errors.append(f"{key}: not a ROS template section{_hint(key, TOP_LEVEL)}")
    if template.get("ROSTemplateFormatVersion") != "2015-09-01":
        errors.append("ROSTemplateFormatVersion: must be '2015-09-01'")
    params: Dict[str, Any] = dict(template.get("Parameters") or {})
    conditions: Dict[str, Any] = dict(template.get("Conditions") or {})
    resources: Dict[str, Any] = dict(template.get("Resources") or {})
    if not resources:
        errors.append("Resources: a template needs at least one resource")

    for name, resource in resources.items():
        where = f"Resources.{name}"
        if not isinstance(resource, dict) or "Type" not in resource:
            errors.append(f"{where}: no Type")
            continue
        for key in resource:
            if key not in RESOURCE_KEYS:
                errors.append(f"{where}.{key}: not a resource attribute{_hint(key, RESOURCE_KEYS)}")
        type_name = resource["Type"]
        spec = types.get(type_name)
        if spec is None:
            errors.append(f"{where}.Type: unknown resource type {type_name!r}{_hint(type_name, types)}")
            continue
        _check_struct(resource.get("Properties") or {}, spec.props, f"{where}.Properties", type_name, errors)
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target not in resources:
                errors.append(f"{where}.DependsOn: no resource {target!r}{_hint(target, resources)}")
        if "Condition" in resource and resource["Condition"] not in conditions:
            errors.append(f"{where}.Condition: no condition {resource['Condition']!r}")

    used = set()
    body = {k: v for k, v in template.items() if k != "Parameters"}
    for path, node in _walk(body, ""):
        if not is_intrinsic(node):
            continue
        (key, value), = node.items()
        where = path.lstrip(".")
        if key == "Ref":
            used.add(value)
            if value not in params and value not in resources and value not in PSEUDO:
                errors.append(f"{where}: Ref to {value!r}, which is no parameter or resource"
                              f"{_hint(str(value), list(params) + list(resources))}")
        elif key == "Fn::GetAtt":
            errors.extend(_getatt(where, value, resources, types))
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            local = value[1] if isinstance(value, list) and len(value) > 1 else {}
            for var in _SUB_VAR.findall(text if isinstance(text, str) else ""):
                if var in local:
                    continue
                if "." in var:
                    errors.extend(_getatt(where, var.split(".", 1), resources, types))
                else:
                    used.add(var)
                    if var not in params and var not in resources and var not in PSEUDO:
                        errors.append(f"{where}: Fn::Sub names ${{{var}}}, which is no parameter or resource"
                                      f"{_hint(var, list(params) + list(resources))}")
        elif key == "Fn::If":
            if not (isinstance(value, list) and len(value) == 3):
                errors.append(f"{where}: Fn::If takes [condition, value if true, value if false]")
            elif value[0] not in conditions:
                errors.append(f"{where}: Fn::If names no condition {value[0]!r}{_hint(str(value[0]), conditions)}")
    for name in params:
        if name not in used:
            errors.append(f"Parameters.{name}: nothing uses this parameter")
    return errors


def _getatt(where: str, value: Any, resources: Mapping[str, Any], types: Mapping[str, ResourceType]) -> List[str]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        return [f"{where}: Fn::GetAtt takes [resource, attribute]"]
    target, attribute = value
    if target not in resources:
        return [f"{where}: Fn::GetAtt names no resource {target!r}{_hint(str(target), resources)}"]
    spec = types.get(resources[target].get("Type"))
    if spec is not None and attribute not in spec.attributes:
        return [f"{where}: {resources[target]['Type']} {target!r} has no attribute {attribute!r}"
                f"{_hint(str(attribute), spec.attributes)}"]
    return []


def _check_struct(value: Any, struct: Struct, where: str, type_name: str, errors: List[str]) -> None:
    if is_intrinsic(value):
        (key, inner), = value.items()
        if key == "Fn::If" and isinstance(inner, list) and len(inner) == 3:
            for branch in inner[1:]:
                _check_struct(branch, struct, where, type_name, errors)
        return
    if not isinstance(value, dict):
        errors.append(f"{where}: expected an object of properties of {type_name}")
        return
    for key, item in value.items():
        prop = struct.properties.get(key)
        if prop is None:
            errors.append(f"{where}.{key}: {key!r} is not a property of {type_name}{_hint(key, struct.properties)}")
            continue
        if prop.struct is None or not prop.struct.properties:
            continue
        items = item if prop.is_list and isinstance(item, list) else [item]
        for index, element in enumerate(items):
            sub = f"{where}.{key}[{index}]" if prop.is_list else f"{where}.{key}"
            _check_struct(element, prop.struct, sub, type_name, errors)
    for key in sorted(struct.required - set(value)):
        errors.append(f"{where}.{key}: required property {key!r} of {type_name} is missing")
