"""Named registries for the real extension points (worlds, formats, rewards, ...).

An unknown name raises ``KeyError`` whose message lists the closest registered names
("did you mean ...?"), so a typo in a config file is fixed in one read.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from priorlab.errors import PriorlabError

T = TypeVar("T")


class UnknownNameError(PriorlabError, KeyError):
    """An unregistered name was asked for; ``str()`` carries the suggestion."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def did_you_mean(name: str, choices: list[str]) -> str:
    """Return " Did you mean 'x'?" for the closest choices, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=2, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


class Registry(Generic[T]):
    """A mapping from names to objects with helpful errors.

    >>> r = Registry("format"); _ = r.register("steps")(object)
    >>> "steps" in r
    True
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            names = sorted(self._items)
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{did_you_mean(name, names)} "
                f"Registered: {', '.join(names)}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
