"""Reading template.yml as ROS sees it: the YAML, and a small evaluator of its intrinsic functions.

The template uses the long form of ROS's intrinsic functions (``Ref:``, ``Fn::Sub:``...), so plain
``yaml.safe_load`` reads it, as every YAML tool does; a short tag (``!Ref``) is refused here.
:class:`Resolver` evaluates ``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::If``, ``Fn::Equals``,
``Fn::Not``, ``Fn::Select`` and ``Fn::Split`` with given parameter values, so the tests compare
what a deployed stack would hold (queue names, ARNs) rather than the spelling of the template.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"

PSEUDO = {"ALIYUN::Region": "cn-shanghai", "ALIYUN::AccountId": "1234567890123456", "ALIYUN::StackName": "vodai"}
FUNCTION_TYPE = "ALIYUN::FC3::Function"
#: What ``Fn::Sub``/``Ref`` of ``ALIYUN::NoValue`` resolves to here: the property is left out.
NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that names a short-form ROS tag instead of a generic constructor error."""


def _refuse_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"short-form tag !{suffix}: plain YAML readers cannot read it; use the long form", node.start_mark
    )


_StrictLoader.add_multi_constructor("!", _refuse_tag)


def load(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)


def functions(template: dict) -> Dict[str, dict]:
    """The FC 3.0 functions, by the vodai function each serves (its ``VODAI_FUNCTION``)."""
    found = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == FUNCTION_TYPE:
            found[resource["Properties"]["EnvironmentVariables"]["VODAI_FUNCTION"]] = resource
    return found


def of_type(template: dict, type_name: str) -> Dict[str, dict]:
    """Logical id -> resource, for every resource of ``type_name``."""
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_name}


def defaults(template: dict, **overrides: str) -> Dict[str, Any]:
    """Parameter values: each Default, a placeholder for a parameter without one, then overrides."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        values[name] = spec["Default"] if "Default" in spec else f"<{name}>"
    values.update(overrides)
    return values


def walk(node: Any, path: Tuple = ()) -> Iterator[Tuple[Tuple, Any]]:
    """Every (path, node) in a parsed document."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))


def references(node: Any) -> set:
    """Names a node refers to: ``Ref`` targets and ``${Name}`` / ``${Name.Attr}`` in ``Fn::Sub``."""
    names = set()
    for _, item in walk(node):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (key, value), = item.items()
        if key == "Ref" and isinstance(value, str):
            names.add(value)
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            names.update(m.split(".")[0] for m in _SUB_VAR.findall(text))
        elif key == "Fn::GetAtt" and isinstance(value, list):
            names.add(value[0])
    return names


def is_intrinsic(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::"))


class Resolver:
    """Evaluates a template's intrinsic functions for given parameter values."""

    def __init__(self, template: dict, params: Optional[Mapping[str, Any]] = None, pseudo: Optional[Mapping[str, str]] = None):
        self.template = template
        self.params = dict(defaults(template) if params is None else params)
        self.pseudo = dict(PSEUDO if pseudo is None else pseudo)
        self.resources = template["Resources"]

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def _ref(self, name: str) -> Any:
        if name == "ALIYUN::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        raise KeyError(f"Ref to unknown name {name!r}")

    def _getatt(self, resource: str, attribute: str) -> Any:
        res = self.resources[resource]
        props, account = res.get("Properties", {}), self.pseudo["ALIYUN::AccountId"]
        simple = {
            ("ALIYUN::MNS::Topic", "TopicName"): "TopicName",
            ("ALIYUN::MNS::Queue", "QueueName"): "QueueName",
            ("ALIYUN::FC3::Function", "FunctionName"): "FunctionName",
            ("ALIYUN::SLS::Project", "Name"): "Name",
            ("ALIYUN::SLS::Logstore", "LogstoreName"): "LogstoreName",
            ("ALIYUN::SLS::Logstore", "ProjectName"): "ProjectName",
            ("ALIYUN::RAM::Role", "RoleName"): "RoleName",
        }
        key = (res["Type"], attribute)
        if key in simple:
            return self(props[simple[key]])
        if key == ("ALIYUN::RAM::Role", "Arn"):
            return f"acs:ram::{account}:role/{self(props['RoleName'])}"
        if key == ("ALIYUN::FC3::Trigger", "UrlInternet"):
            function = self(props["FunctionName"])
            return f"https://{function}-example.{self.pseudo['ALIYUN::Region']}.fcapp.run"
        raise KeyError(f"Fn::GetAtt {resource}.{attribute} is not modelled")

    def _sub(self, value: Any) -> str:
        text, local = (value[0], value[1]) if isinstance(value, list) else (value, {})

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in local:
                return str(self(local[name]))
            if "." in name and name.split(".")[0] in self.resources:
                return str(self._getatt(*name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_VAR.sub(one, text)

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(n) for n in node]
        if not isinstance(node, dict):
            return node
        if not is_intrinsic(node):
            resolved = {k: self(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        (key, value), = node.items()
        if key == "Ref":
            return self._ref(value)
        if key == "Fn::Sub":
            return self._sub(value)
        if key == "Fn::GetAtt":
            return self._getatt(*value)
        if key == "Fn::If":
            cond, yes, no = value
            return self(yes) if self.condition(cond) else self(no)
        if key == "Fn::Equals":
            left, right = value
            return self(left) == self(right)
        if key == "Fn::Not":
            return not self(value[0])
        if key == "Fn::Split":
            separator, text = value
            return str(self(text)).split(separator)
        if key == "Fn::Select":
            index, items = value
            return self(items)[int(index)]
        raise KeyError(f"intrinsic function {key} is not modelled")
