"""Value classes for the code a cold start imports, without ``@dataclass``'s import-time cost.

Why not dataclasses there: Python 3.10 (FC's runtime) compiles each method ``@dataclass`` generates
with ``exec`` while the class is created. The sixteen value classes the upload handler's import
created that way cost 53 M instructions, about 8 ms of every cold start. A
hand-written ``__init__`` is compiled into the ``.pyc`` like any function and costs nothing then.

So such a class writes its ``__init__`` by hand, and its fields are that ``__init__``'s parameters,
read from the code object when the class is created (one source of truth, no ``inspect``; so the
``__init__`` must not be wrapped by a decorator). Where a dataclass had ``default_factory``, the
parameter defaults to ``None`` and ``__init__`` makes a fresh value: ``None`` means "the default".
:class:`Value` gives it what ``@dataclass`` would: ``__eq__`` and ``__repr__`` over the fields
(``_repr_hidden`` names fields a repr must not show, such as secrets), :func:`fields` and
:func:`replace`. :class:`FrozenValue` also refuses assignment, as ``@dataclass(frozen=True)`` does
(its ``__init__`` sets fields with ``object.__setattr__``), and hashes by its fields.

Code off the cold path (the CLI, the emulator, replay, local invoke) uses dataclasses as usual.
"""

from __future__ import annotations

import inspect
import reprlib
from dataclasses import FrozenInstanceError
from operator import attrgetter
from typing import Any, FrozenSet, Tuple, TypeVar

__all__ = ["FrozenValue", "Value", "fields", "replace"]

V = TypeVar("V", bound="Value")

_STAR_ARGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


class Value:
    """Base of a value class: fields are the parameters of the subclass's own ``__init__``."""

    __slots__ = ()
    _fields: Tuple[str, ...] = ()
    _repr_hidden: FrozenSet[str] = frozenset()
    # An instance's field values as a tuple, by one C call where it can: compared on warm paths
    # (the handler compares each invocation's Credentials with the last ones).
    _values_of: Any = staticmethod(lambda value: ())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return  # a subclass without its own __init__ keeps its parent's fields
        code = init.__code__
        if code.co_flags & _STAR_ARGS:
            raise TypeError(f"{cls.__qualname__}.__init__ takes *args or **kwargs: its parameters are the fields")
        cls._fields = names = code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount]
        cls._values_of = _tuple_getter(names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        values_of = self._values_of
        return values_of(self) == values_of(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, like a dataclass with eq

    @reprlib.recursive_repr()  # a value that holds itself shows "..." there, as a dataclass's repr does
    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields if name not in self._repr_hidden)
        return f"{type(self).__qualname__}({shown})"


class FrozenValue(Value):
    """A value class whose fields cannot be assigned after ``__init__``; hashable by its fields."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values_of(self))


def _tuple_getter(names: Tuple[str, ...]) -> Any:
    """``value -> (value.<name>, ...)``: a tuple always, as @dataclass compares (identity first, so a
    field holding the same NaN compares equal), from attrgetter in C when there are several."""
    if len(names) > 1:
        return attrgetter(*names)  # a class attribute, not a descriptor: called with the instance
    if names:
        get = attrgetter(names[0])
        return staticmethod(lambda value: (get(value),))
    return staticmethod(lambda value: ())


def fields(value_or_class: Any) -> Tuple[str, ...]:
    """The field names of a value class or instance, in ``__init__``'s order."""
    return value_or_class._fields


def replace(value: V, /, **changes: Any) -> V:
    """A new value like ``value`` with ``changes``, made through ``__init__`` (``dataclasses.replace``)."""
    names = value._fields
    unknown = [name for name in changes if name not in names]
    if unknown:
        raise TypeError(f"{type(value).__qualname__} has no field {unknown[0]!r} (fields: {', '.join(names)})")
    values = {name: getattr(value, name) for name in names}
    values.update(changes)
    return type(value)(**values)
