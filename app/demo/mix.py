"""A weighted menu and a uniform pick, the random primitives the demo market is written in."""

from __future__ import annotations

from bisect import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Mix(Generic[T]):
    """Options with weights: `pick()` draws one in proportion to its weight.

    Cumulative weights are computed once, so a draw is one `random()` and one bisection:
    the generator makes millions of them.
    """

    options: tuple[T, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[T, float]) -> Mix[T]:
        if not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
            raise ValueError("a mix needs non-negative weights with a positive total")
        return cls(tuple(weights), tuple(accumulate(weights.values())))

    def pick(self, rng: Random) -> T:
        return self.options[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def chance(rng: Random, probability: float) -> bool:
    """True with the given probability (a value above 1 is certain)."""
    return rng.random() < probability


def one_of(rng: Random, options: Sequence[T]) -> T:
    """An option drawn uniformly, from one `random()`: `Random.choice` draws bits until one
    fits, which costs several times as much and the generator picks names and notes by the
    hundred thousand."""
    return options[int(rng.random() * len(options))]
