"""A synthetic learning curve with a known best configuration, printed one epoch at a time.

    python benchmarks/synthetic_curve.py --lr 0.003 --wd 1e-4 --width 256 --dropout 0.3 --epochs 81

prints ``epoch=1 val_acc=0.4412`` ... one line per epoch, sleeping ``--sleep`` seconds per epoch
(a scaled-down stand-in for real training). Standard library only, so that it starts fast.

The model (``curve``): a configuration has an asymptotic accuracy ``a_inf`` (a bowl in the
scaled hyperparameters, best at lr=10^-2.5, wd=10^-4, width=256, dropout=0.35: 0.97; learning
rates above 0.03 diverge) and a time constant ``tau`` (large learning rates, large widths and
little dropout converge fast).
The accuracy after t epochs is ``a_inf - (a_inf - 0.1) * (1 + t / tau) ** -1.2`` minus an
overfitting term that grows late in training for wide, weakly regularized networks, plus
deterministic Gaussian noise (sd 0.004) seeded by the configuration and the epoch. Fast
starters therefore lead early and are overtaken later, and overfitting configurations look
better early than they end: early epochs predict the final ranking, but imperfectly.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time

NOISE = 0.004


def asymptote(lr: float, wd: float, width: int, dropout: float) -> float:
    """Accuracy after unlimited training (without overfitting)."""
    u, v, w = math.log10(lr), math.log10(wd), math.log2(width)
    a = (
        0.97
        - 0.03 * (u + 2.5) ** 2
        - 0.006 * (v + 4.0) ** 2
        - 0.005 * (w - 8.0) ** 2
        - 0.25 * (dropout - 0.35) ** 2
        - 0.3 * max(0.0, u + 1.5) ** 2  # learning rates above 0.03 diverge
    )
    return max(a, 0.1)


def time_constant(lr: float, wd: float, width: int, dropout: float, lr_speed: float = 0.3) -> float:
    """Epochs of the power-law convergence: larger learning rates and widths learn faster."""
    u, w = math.log10(lr), math.log2(width)
    return 10 ** (-lr_speed * (u + 2.5)) * 2 ** (-(w - 8.0) / 6) * (1 + dropout)


def overfitting(lr: float, wd: float, width: int, dropout: float, scale: float = 0.06) -> float:
    """Accuracy lost by epoch 81 to overfitting (it grows with the square of training time)."""
    v, w = math.log10(wd), math.log2(width)
    weak = min(max((-4.0 - v) / 2.0, 0.0), 1.0)
    wide = min(max((w - 6.0) / 4.0, 0.0), 1.0)
    return scale * weak * wide * (1.0 - dropout / 0.7)


def curve(
    lr: float,
    wd: float,
    width: int,
    dropout: float,
    epochs: int,
    *,
    lr_speed: float = 0.3,
    overfit: float = 0.06,
    power: float = 1.2,
) -> list[float]:
    """Validation accuracy after each epoch 1..epochs, rounded as printed (4 decimals).

    The keywords change the family (``benchmarks/hyperband_sim.py`` tries variants): how much
    faster large learning rates converge, how much wide weakly regularized networks overfit, and
    the exponent of the power law. The benchmark uses the defaults.
    """
    a = asymptote(lr, wd, width, dropout)
    tau = time_constant(lr, wd, width, dropout, lr_speed)
    o = overfitting(lr, wd, width, dropout, overfit)
    rng = random.Random(f"{lr!r},{wd!r},{width!r},{dropout!r}")
    out = []
    for t in range(1, epochs + 1):
        acc = a - (a - 0.1) * (1 + t / tau) ** -power - o * (t / 81) ** 2 + rng.gauss(0.0, NOISE)
        out.append(round(min(max(acc, 0.0), 1.0), 4))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--wd", type=float, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--dropout", type=float, required=True)
    p.add_argument("--epochs", type=int, default=81)
    p.add_argument("--sleep", type=float, default=0.01, help="seconds per epoch")
    a = p.parse_args(argv)
    for t, acc in enumerate(curve(a.lr, a.wd, a.width, a.dropout, a.epochs), start=1):
        time.sleep(a.sleep)
        sys.stdout.write(f"epoch={t} val_acc={acc:.4f}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
