"""A scikit-learn training script written for SageMaker script mode, run unchanged by hpt.

It reads what a SageMaker training container gives a script: its hyperparameters from
``SM_HPS`` (and, as SageMaker passes them, as ``--name value`` arguments, which win), the
training data from the ``train`` channel (``SM_CHANNEL_TRAIN``), and saves the model to
``SM_MODEL_DIR``. It trains a linear classifier with stochastic gradient descent, one epoch at
a time, and prints the metrics a tuning job's MetricDefinitions read:

    epoch=1 train:accuracy=0.9634 validation:accuracy=0.9370

Under hpt, ``sagemaker: {env: true, channels: {train: ...}}`` in the spec sets those variables
(see examples/sagemaker/tuning-job.json and specs/digits-sgd-sagemaker.yaml).
"""

import argparse
import json
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def arguments() -> argparse.Namespace:
    hps = json.loads(os.environ.get("SM_HPS", "{}"))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, default=hps.get("alpha", 1e-4))
    parser.add_argument("--epochs", type=int, default=hps.get("epochs", 10))
    parser.add_argument("--loss", default=hps.get("loss", "hinge"))
    parser.add_argument("--penalty", default=hps.get("penalty", "l2"))
    parser.add_argument("--random-state", type=int, default=hps.get("random-state", 0))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "data/train"))
    args, _unknown = parser.parse_known_args()  # SageMaker may pass more than a script knows
    return args


def main() -> None:
    args = arguments()
    files = sorted(Path(args.train).glob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV file in the train channel {args.train}")
    data = np.vstack([np.loadtxt(f, delimiter=",") for f in files])
    y, X = data[:, 0].astype(int), data[:, 1:]
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.3, random_state=args.random_state, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    model = SGDClassifier(
        loss=args.loss, penalty=args.penalty, alpha=args.alpha, random_state=args.random_state
    )
    classes = np.unique(y)
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(X_train, y_train, classes=classes)
        train, validation = model.score(X_train, y_train), model.score(X_val, y_val)
        print(f"epoch={epoch} train:accuracy={train:.4f} validation:accuracy={validation:.4f}", flush=True)
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    joblib.dump({"scaler": scaler, "model": model}, Path(args.model_dir) / "model.joblib")


if __name__ == "__main__":
    main()
