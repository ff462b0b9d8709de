"""``numpy.random.default_rng(entropy).random(n)``, bit for bit, without importing numpy.

Random search draws each trial's point from a generator seeded with ``(random_seed, trial id,
k)``. numpy's import costs about 0.1 s, a third of what a short job spends starting, and a
random-search job needs nothing else from it; so the few doubles a trial needs come from this
module: numpy's ``SeedSequence`` (its hash mixing of the entropy words into a pool of four, and
the pool's expansion into the generator's state) and ``PCG64`` (a 128-bit LCG with the XSL RR
output), in plain integers. ``tests/test_seeded.py`` checks it against numpy on thousands of
seeds; a job's draws are the same as before this module existed.
"""

from __future__ import annotations

from collections.abc import Iterable

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_PCG_MULT = (2549297995355413924 << 64) | 4865540595714422341
_POOL = 4


def _words(entropy: Iterable[int]) -> list[int]:
    """The entropy as 32-bit words, each integer least significant word first (0 is one word)."""
    out: list[int] = []
    for n in entropy:
        n = int(n)
        if n < 0:
            raise ValueError("seeds are non-negative integers")
        if n == 0:
            out.append(0)
        while n > 0:
            out.append(n & _M32)
            n >>= 32
    return out


def _state_words(entropy: Iterable[int], n_words: int) -> list[int]:
    """``SeedSequence(entropy).generate_state(n_words, uint32)``."""
    h = _INIT_A

    def hashmix(v: int) -> int:
        nonlocal h
        v = (v ^ h) & _M32
        h = (h * _MULT_A) & _M32
        v = (v * h) & _M32
        return v ^ (v >> 16)

    def mix(x: int, y: int) -> int:
        r = (_MIX_L * x - _MIX_R * y) & _M32
        return r ^ (r >> 16)

    words = _words(entropy)
    pool = [hashmix(words[i] if i < len(words) else 0) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(words)):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(words[src]))
    hb, out = _INIT_B, []
    for i in range(n_words):
        v = (pool[i % _POOL] ^ hb) & _M32
        hb = (hb * _MULT_B) & _M32
        v = (v * hb) & _M32
        out.append(v ^ (v >> 16))
    return out


def uniform(entropy: Iterable[int], n: int) -> list[float]:
    """``n`` doubles in [0, 1): what ``numpy.random.default_rng(list(entropy)).random(n)`` gives."""
    w = _state_words(entropy, 8)
    s0, s1, i0, i1 = (w[2 * k] | (w[2 * k + 1] << 32) for k in range(4))
    inc = ((((i0 << 64) | i1) << 1) | 1) & _M128
    # PCG's seeding: one step from 0 (which gives inc), add the seed, one more step.
    state = ((inc + ((s0 << 64) | s1)) * _PCG_MULT + inc) & _M128
    out = []
    for _ in range(n):
        state = (state * _PCG_MULT + inc) & _M128
        x = ((state >> 64) ^ state) & _M64
        rot = state >> 122
        x = ((x >> rot) | (x << ((64 - rot) & 63))) & _M64
        out.append((x >> 11) * (1.0 / 9007199254740992.0))
    return out


__all__ = ["uniform"]
