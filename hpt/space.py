"""The search space and its one transform to and from the unit cube.

Every parameter occupies a block of the unit cube ``[0, 1]^dim``:

* continuous and integer parameters one coordinate, in their *scaled* coordinates (linear,
  logarithmic or reverse-logarithmic), so a uniform draw is log-uniform for a log range;
* integers cover ``[min - 0.5, max + 0.5]`` and are rounded, so every integer gets its share;
* a categorical parameter with k values k coordinates, decoded by argmax (a one-hot encoding
  for models; an argmax of k uniform draws is a uniform choice).

Samplers work in the cube only and never branch on parameter type.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CONTINUOUS, INTEGER, CATEGORICAL = "continuous", "integer", "categorical"
LINEAR, LOG, REVERSE_LOG, AUTO = "linear", "logarithmic", "reverse_logarithmic", "auto"


def resolve_scaling(scaling: str, low: float, high: float) -> str:
    """``auto`` becomes logarithmic when ``min > 0`` and ``max / min >= 1000``, else linear."""
    if scaling != AUTO:
        return scaling
    if low > 0 and high / low >= 1000:
        return LOG
    return LINEAR


@dataclass(frozen=True)
class Param:
    """One hyperparameter range. ``scaling`` is resolved (never ``auto``)."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    scaling: str = LINEAR
    requested_scaling: str = AUTO
    values: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return len(self.values) if self.kind == CATEGORICAL else 1

    @property
    def cardinality(self) -> int | None:
        if self.kind == CATEGORICAL:
            return len(self.values)
        if self.kind == INTEGER:
            return int(self.high) - int(self.low) + 1
        return None

    # The scaled interval [a, b] that the unit coordinate maps onto linearly.
    def _bounds(self) -> tuple[float, float]:
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.kind == INTEGER else (self.low, self.high)
        if self.scaling == LOG:
            return math.log(lo), math.log(hi)
        if self.scaling == REVERSE_LOG:
            return math.log(1.0 - lo), math.log(1.0 - hi)
        return lo, hi

    def _forward(self, x: float) -> float:
        if self.scaling == LOG:
            return math.log(x)
        if self.scaling == REVERSE_LOG:
            return math.log(1.0 - x)
        return x

    def _backward(self, s: float) -> float:
        if self.scaling == LOG:
            return math.exp(s)
        if self.scaling == REVERSE_LOG:
            return 1.0 - math.exp(s)
        return s

    def decode(self, u: Sequence[float]) -> Any:
        """Map this parameter's block of the unit cube to a value that can be run."""
        if self.kind == CATEGORICAL:
            return self.values[max(range(len(u)), key=u.__getitem__)]  # the first largest
        t = min(max(float(u[0]), 0.0), 1.0)
        a, b = self._bounds()
        x = self._backward(a + t * (b - a))
        if self.kind == INTEGER:
            return int(min(max(math.floor(x + 0.5), self.low), self.high))
        return float(min(max(x, self.low), self.high))

    def encode(self, value: Any) -> np.ndarray:
        """Inverse of :meth:`decode` (an integer maps to the centre of its cell)."""
        import numpy as np

        if self.kind == CATEGORICAL:
            out = np.zeros(len(self.values))
            out[self.values.index(str(value))] = 1.0
            return out
        a, b = self._bounds()
        s = self._forward(float(value))
        return np.array([min(max((s - a) / (b - a), 0.0), 1.0)])

    def describe(self) -> str:
        if self.kind == CATEGORICAL:
            return "categorical [" + ", ".join(self.values) + "]"
        how = self.scaling if self.requested_scaling != AUTO else f"{self.scaling} (auto)"
        return f"{self.kind} [{number_text(self.low)}, {number_text(self.high)}] {how}"


def number_text(x: float) -> str:
    """A bound as a user would write it: ``3``, ``0.001``, ``1e-06``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


@dataclass(frozen=True)
class Space:
    """An ordered set of parameters with the unit-cube encoding described above."""

    params: tuple[Param, ...]
    _slices: tuple[slice, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        slices, start = [], 0
        for p in self.params:
            slices.append(slice(start, start + p.width))
            start += p.width
        object.__setattr__(self, "_slices", tuple(slices))

    @property
    def dim(self) -> int:
        return sum(p.width for p in self.params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def coords(self, name: str) -> slice:
        """The coordinates of parameter ``name`` in the unit-cube encoding."""
        return self._slices[self.names.index(name)]

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def is_discrete(self) -> bool:
        return all(p.kind != CONTINUOUS for p in self.params)

    @property
    def cardinality(self) -> int | None:
        """Number of distinct points when every parameter is discrete, else None."""
        if not self.is_discrete:
            return None
        return math.prod(p.cardinality or 1 for p in self.params)

    def decode(self, u: Sequence[float]) -> dict[str, Any]:
        """The configuration at cube point ``u`` (a sequence of ``dim`` floats, or an array)."""
        shape = getattr(u, "shape", None)
        if shape is None or len(shape) == 1:
            u = [float(x) for x in u]
            shape = (len(u),)
        if shape != (self.dim,):
            raise ValueError(f"expected a point of dimension {self.dim}, got shape {shape}")
        return {p.name: p.decode(u[s]) for p, s in zip(self.params, self._slices, strict=True)}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        import numpy as np

        return np.concatenate([p.encode(values[p.name]) for p in self.params])

    def snap(self, u: np.ndarray) -> np.ndarray:
        """The cube point of the runnable configuration nearest to ``u``."""
        return self.encode(self.decode(u))

    def key(self, values: Mapping[str, Any]) -> tuple:
        """A hashable identity of a configuration (for duplicate detection)."""
        return tuple(values[p.name] for p in self.params)

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination, in declaration order (the last parameter varies fastest)."""
        if not self.is_discrete:
            raise ValueError("a grid needs discrete parameters only")
        choices = []
        for p in self.params:
            if p.kind == CATEGORICAL:
                choices.append(list(p.values))
            else:
                choices.append(list(range(int(p.low), int(p.high) + 1)))
        for combo in itertools.product(*choices):
            yield dict(zip(self.names, combo, strict=True))
