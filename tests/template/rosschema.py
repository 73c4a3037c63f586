"""ROS resource specifications, read from Alibaba's own ROS CDK packages.

Each ``ros_cdk_<service>`` package (``ros-cdk-fc3``, ``ros-cdk-ram``...) holds, for every resource type
``ALIYUN::<Service>::<Name>``, a ``Ros<Name>Props`` class whose keyword arguments are the properties
the type accepts (required ones have no default) and nested ``Ros<Name>.<X>Property`` classes for
structured properties. The template's spelling (``FunctionName``) is what the CDK renders, so the
names are taken from a real synthesis: every property is set to a ``Ref`` to a marker, the stack is
synthesised offline, and each marker is found again under the name ROS expects. Attributes
(``Fn::GetAtt``) are the resolved ``attr_*`` tokens of each resource.

The CDK runs its TypeScript core under Node (jsii): :func:`load` needs ``node`` on PATH.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import os
import sys
import typing
from typing import Any, Dict, Iterable, Optional, Tuple

#: The ROS CDK packages whose resource types a vodai template may use.
MODULES = ("ros_cdk_fc3", "ros_cdk_ram", "ros_cdk_mns", "ros_cdk_vod", "ros_cdk_sls")
_MARK = "ZzProbe"


@dataclasses.dataclass
class Struct:
    """The accepted properties of a resource or of one structured property."""

    properties: Dict[str, "Prop"] = dataclasses.field(default_factory=dict)

    @property
    def required(self) -> set:
        return {name for name, prop in self.properties.items() if prop.required}


@dataclasses.dataclass
class Prop:
    required: bool
    struct: Optional[Struct] = None  # a structured property's own properties
    is_list: bool = False  # a list of ``struct``


@dataclasses.dataclass
class ResourceType:
    name: str
    props: Struct
    attributes: set


def _params(cls: type) -> Iterable[Tuple[str, Any, bool]]:
    """(name, resolved annotation, required) of each keyword argument of a jsii struct."""
    hints = typing.get_type_hints(cls.__init__, vars(sys.modules[cls.__module__]))  # nested types are forward refs
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name != "self" and param.kind == inspect.Parameter.KEYWORD_ONLY:
            yield name, hints.get(name, param.annotation), param.default is inspect.Parameter.empty


def _struct_class(annotation: Any) -> Tuple[Optional[type], bool]:
    """The jsii struct class a parameter takes (directly or as list items), if any."""
    for arg in typing.get_args(annotation) or (annotation,):
        origin = typing.get_origin(arg)
        if origin is not None and origin.__name__ in ("Sequence", "list"):
            inner, _ = _struct_class(typing.get_args(arg)[0])
            if inner is not None:
                return inner, True
        elif isinstance(arg, type) and arg.__name__.endswith("Property") and "." in arg.__qualname__:
            return arg, False
    return None, False


class _Probe:
    """Builds props whose every leaf is a marker, and reads the rendered names back."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.count = 0
        self.leaves: Dict[str, Tuple[Tuple[str, ...], bool]] = {}  # marker -> (python path, required)
        self.struct_required: Dict[Tuple[str, ...], bool] = {}  # python path of a struct -> required

    def _marker(self, path: Tuple[str, ...], required: bool) -> Any:
        self.count += 1
        marker = f"{_MARK}{self.count}"
        self.leaves[marker] = (path, required)
        return self.core.Token.as_any(self.core.Fn.ref(marker))

    def build(self, cls: type, path: Tuple[str, ...] = ()) -> Any:
        values = {}
        for name, annotation, required in _params(cls):
            inner, is_list = _struct_class(annotation)
            here = path + (name,)
            if inner is not None and inner.__qualname__ != cls.__qualname__:
                self.struct_required[here] = required
                built = self.build(inner, here)
                values[name] = [built] if is_list else built
            elif _is_mapping(annotation):
                # A free-form map renders as given: a plain dict keeps the marker findable.
                values[name] = {"k": self._marker(here, required)}
            else:
                try:
                    values[name] = self._marker(here, required)
                except Exception:  # pragma: no cover - a type no token satisfies
                    continue
        return cls(**values)


def _read(rendered: Any, probe: _Probe) -> Struct:
    """Turn a rendered property tree back into a :class:`Struct` (ROS names, required flags)."""

    def place(node: Any, depth: int) -> Struct:
        struct = Struct()
        for key, value in node.items() if isinstance(node, dict) else ():
            marker = _marker_in(value)
            if marker is not None and marker in probe.leaves:
                struct.properties[key] = Prop(required=probe.leaves[marker][1])
                continue
            is_list = isinstance(value, list)
            item = value[0] if is_list and value else value
            first = _first_marker(item)
            if first is None or first not in probe.leaves:
                continue
            python_path = probe.leaves[first][0][: depth + 1]
            required = probe.struct_required.get(python_path, False)
            struct.properties[key] = Prop(required=required, struct=place(item, depth + 1), is_list=is_list)
        return struct

    return place(rendered, 0)


def _is_mapping(annotation: Any) -> bool:
    return any(typing.get_origin(a) in (typing.Mapping, dict, collections.abc.Mapping)
               for a in typing.get_args(annotation))


def _marker_in(value: Any) -> Optional[str]:
    if isinstance(value, dict) and set(value) == {"Ref"} and str(value["Ref"]).startswith(_MARK):
        return value["Ref"]
    if isinstance(value, dict) and set(value) == {"k"}:
        return _marker_in(value["k"])
    return None


def _first_marker(node: Any) -> Optional[str]:
    if isinstance(node, dict):
        direct = _marker_in(node)
        if direct:
            return direct
        for value in node.values():
            found = _first_marker(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _first_marker(value)
            if found:
                return found
    return None




def load(modules: Iterable[str] = MODULES) -> Dict[str, ResourceType]:
    """Every resource type of ``modules``, by ROS type name (``ALIYUN::FC3::Function``...)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    core = importlib.import_module("ros_cdk_core")
    app = core.App()
    stack = core.Stack(app, "Schema")
    probes: Dict[str, Tuple[str, _Probe, Any]] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for attr in dir(module):
            cls = getattr(module, attr)
            props_cls = getattr(module, attr + "Props", None)
            type_name = getattr(cls, "ROS_RESOURCE_TYPE_NAME", None)
            if not (attr.startswith("Ros") and isinstance(type_name, str) and props_cls is not None):
                continue
            probe = _Probe(core)
            logical_id = f"R{len(probes)}"
            resource = cls(stack, logical_id, probe.build(props_cls), False)
            probes[type_name] = (logical_id, probe, resource)
    template = app.synth().get_stack_by_name("Schema").template
    types = {}
    for type_name, (logical_id, probe, resource) in probes.items():
        rendered = template["Resources"][logical_id].get("Properties", {})
        attributes = set()
        for attr in dir(resource):
            if attr.startswith("attr_"):
                resolved = stack.resolve(getattr(resource, attr))
                if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
                    attributes.add(resolved["Fn::GetAtt"][1])
        types[type_name] = ResourceType(type_name, _read(rendered, probe), attributes)
    return types
