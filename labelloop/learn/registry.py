"""Registries of extension classes by name, so built-ins and plug-ins are found the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from labelloop.errors import SchemaError

T = TypeVar("T")
C = TypeVar("C", bound=type)


class Registry(Mapping[str, Callable[..., T]]):
    """Classes that build a ``T``, by name; reads like a dict, :meth:`make` builds one.

    Parameters
    ----------
    kind : str
        What one entry is called in the error for an unknown name, e.g. ``"strategy"``.
    plural : str
        What the known entries are called in that error, e.g. ``"strategies"``.
    """

    def __init__(self, kind: str, plural: str) -> None:
        self.kind = kind
        self.plural = plural
        self._classes: dict[str, Callable[..., T]] = {}

    def __getitem__(self, name: str) -> Callable[..., T]:
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._classes)

    def register(self, cls: C) -> C:
        """Class decorator that registers ``cls`` under its class attribute ``name``."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__qualname__} needs a non-empty class attribute 'name'")
        return self.register_as(name)(cls)

    def register_as(self, name: str) -> Callable[[C], C]:
        """Class decorator that registers a class under ``name``."""

        def decorate(cls: C) -> C:
            self._classes[name] = cls
            return cls

        return decorate

    def unknown(self, name: str) -> str | None:
        """Why ``name`` is not registered, listing the known names; ``None`` when it is."""
        if name in self._classes:
            return None
        known = ", ".join(self.names())
        return f"unknown {self.kind} '{name[:100]}'; known {self.plural}: {known}"

    def lookup(self, name: str) -> Callable[..., T]:
        """The class registered as ``name``: ``self[name]`` with an error a user can read.

        Raises
        ------
        SchemaError
            When nothing is registered as ``name``; the message lists the known names.
        """
        problem = self.unknown(name)
        if problem is not None:
            raise SchemaError(problem)
        return self._classes[name]

    def make(self, name: str, **params: Any) -> T:
        """Build the class registered as ``name`` with ``params``.

        Raises
        ------
        SchemaError
            When nothing is registered as ``name``; the message lists the known names.
        """
        return self.lookup(name)(**params)
