"""Train a small neural network (scikit-learn's MLPClassifier) on the bundled digits dataset,
epoch by epoch with ``partial_fit``, printing one validation line per epoch:

    epoch=1 val_acc=0.8907 val_loss=0.4102
    epoch=2 val_acc=0.9259 val_loss=0.2733

This is the kind of iterative training that Hyperband and ``early_stopping: auto`` judge while
it runs: an hpt spec's regex reads ``val_acc`` at every epoch. ``curve()`` is the same training
as a generator, for code that trains in-process (the benchmarks).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def data(seed: int = 0):
    """Train and validation split of digits, pixels scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=seed, stratify=y)


def curve(
    lr: float,
    alpha: float,
    hidden: int,
    batch_size: int,
    epochs: int,
    seed: int = 0,
    split=None,
) -> Iterator[tuple[int, float, float]]:
    """Yield ``(epoch, validation accuracy, validation log loss)`` after each epoch."""
    X_train, X_val, y_train, y_val = split if split is not None else data(seed)
    classes = np.unique(y_train)
    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=alpha,
        learning_rate_init=lr,
        batch_size=batch_size,
        random_state=seed,
    )
    for epoch in range(1, epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X_train, y_train, classes=classes)
        proba = np.clip(model.predict_proba(X_val), 1e-12, 1.0)
        acc = float(np.mean(classes[proba.argmax(axis=1)] == y_val))
        yield epoch, acc, float(log_loss(y_val, proba, labels=classes))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's initial learning rate")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    parser.add_argument("--hidden", type=int, default=64, help="units in the hidden layer")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for epoch, acc, loss in curve(args.lr, args.alpha, args.hidden, args.batch_size, args.epochs, args.seed):
        print(f"epoch={epoch} val_acc={acc:.4f} val_loss={loss:.4f}", flush=True)


if __name__ == "__main__":
    main()
