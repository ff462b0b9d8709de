"""Train a support vector classifier on scikit-learn's bundled digits dataset.

Prints the training and validation accuracy in lines that an hpt spec's metric regexes read:

    train_acc=0.9984
    val_acc=0.9870
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--gamma", default="scale", help="a float, or 'scale' / 'auto'")
    parser.add_argument("--kernel", default="rbf", choices=["linear", "rbf", "poly", "sigmoid"])
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    gamma = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=args.seed, stratify=y)
    model = SVC(C=args.C, kernel=args.kernel, gamma=gamma, degree=args.degree)
    model.fit(X_train, y_train)
    print(f"train_acc={model.score(X_train, y_train):.4f}")
    print(f"val_acc={model.score(X_val, y_val):.4f}")


if __name__ == "__main__":
    main()
