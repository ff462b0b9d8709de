"""Seed lists as the benchmarks take them on the command line."""


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"3"``, ``"0-4,10-14"`` -> the seeds, in that order."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
