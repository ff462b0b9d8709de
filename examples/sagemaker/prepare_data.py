"""Write the example's training channel: scikit-learn's bundled digits as a CSV file.

On SageMaker the channel would be an S3 prefix copied into the container; here it is a local
directory that `sagemaker.channels.train` points at. Nothing is downloaded.

    python examples/sagemaker/prepare_data.py            # -> examples/sagemaker/data/train/digits.csv
    python examples/sagemaker/prepare_data.py OUT_DIR
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data" / "train"
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    # label first, then the 64 pixel intensities (0-16), as SageMaker's built-in algorithms expect CSV
    np.savetxt(out / "digits.csv", np.column_stack([y, X]).astype(int), fmt="%d", delimiter=",")
    print(f"wrote {out / 'digits.csv'} ({len(y)} rows)")


if __name__ == "__main__":
    main()
