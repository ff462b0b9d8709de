"""hpt.seeded gives numpy's default_rng(entropy).random(n), bit for bit, without numpy."""

import random

import numpy as np
import pytest

from hpt.seeded import uniform


def _cases():
    r = random.Random(0)
    fixed = [[0], [0, 0, 0], [1, 2, 3], [2**40, 5, 0], [7, 2**64 + 3, 199], [2**32 - 1, 2**32]]
    drawn = [
        [r.randrange(0, 2 ** r.choice([8, 32, 63, 80])) for _ in range(r.choice([1, 2, 3, 4, 5, 6]))]
        for _ in range(2000)
    ]
    return fixed + drawn


def test_the_same_doubles_as_numpy():
    r = random.Random(1)
    for entropy in _cases():
        n = r.choice([1, 2, 5, 9])
        assert uniform(entropy, n) == np.random.default_rng(entropy).random(n).tolist(), entropy


def test_negative_seeds_are_refused_as_numpy_refuses_them():
    with pytest.raises(ValueError):
        uniform([1, -1], 1)
    with pytest.raises(ValueError):
        np.random.default_rng([1, -1])
