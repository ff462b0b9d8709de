"""A script in SageMaker script-mode style for tests: no arguments, everything from SM_*.

Reads its hyperparameters from SM_HPS, a file from the train channel, writes its model to
SM_MODEL_DIR, and prints ``loss=`` from the hyperparameters and the channel's number.
"""

import json
import os
from pathlib import Path

hps = json.loads(os.environ["SM_HPS"])
scale = float((Path(os.environ["SM_CHANNEL_TRAIN"]) / "scale.txt").read_text())
model = Path(os.environ["SM_MODEL_DIR"])
(model / "model.json").write_text(json.dumps({"hps": hps, "channels": json.loads(os.environ["SM_CHANNELS"])}))
print(f"loss={scale * (hps['x'] - 0.3) ** 2 + hps['offset']}", flush=True)
