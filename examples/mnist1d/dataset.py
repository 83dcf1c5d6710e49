"""MNIST-1D (Greydanus 2020), built locally by the `mnist1d` package's `make_dataset()`.

The package's default arguments are the paper's: 5000 samples, 80 % for training (4000
train / 1000 test), 40 points per signal, seed 42. Nothing is downloaded and no data is
committed: both the training script and the benchmark rebuild the same split from the
seed. Needs `pip install mnist1d` (numpy, scipy, matplotlib, requests), which tinyc itself
does not (`pip install tinyc[bench]`).

Samples are shaped [N, 1, 40] (one channel of 40 points, the model input [1, 1, 40]),
labels int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the package's (and the paper's) dataset seed
DATASET_SEED = 42
#: published test accuracies (Greydanus, "Scaling down deep learning", 2020)
PUBLISHED = {"logistic": 0.32, "MLP": 0.68, "CNN": 0.94, "GRU": 0.91}


@dataclass(frozen=True)
class Split:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def load_split(seed: int = DATASET_SEED) -> Split:
    """The paper's split, rebuilt from its templates with `seed`."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    if (args.num_samples, args.train_split, args.final_seq_length) != (5000, 0.8, 40):
        raise SystemExit("the mnist1d package's defaults are no longer the paper's "
                         "(5000 samples, 80 % train, 40 points)")
    data = make_dataset(args)

    def x(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)[:, None, :]

    return Split(x(data["x"]), data["y"].astype(np.int64),
                 x(data["x_test"]), data["y_test"].astype(np.int64))
