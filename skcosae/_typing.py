"""Type aliases of skcosae's public signatures (annotations only; nothing here runs)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import ArrayLike

__all__ = ["ArrayLike", "Codes", "Losses", "MultiViewData", "PairMask", "RandomState", "ViewKey",
           "ViewNames", "ViewSizes"]

#: Several views: a list of (n, d_i) arrays, a frame with (view, feature) columns, or one
#: (n, sum d_i) array split by ``view_sizes``.
MultiViewData = Sequence[ArrayLike] | pd.DataFrame | np.ndarray
#: Which rows are known pairs: None (all), a fraction in (0, 1], or a boolean mask.
PairMask = float | ArrayLike | None
#: A seed, a generator, or None (fresh entropy), as scikit-learn's ``random_state``.
RandomState = int | np.random.RandomState | None
#: A view, by position or by name.
ViewKey = int | Hashable
#: Widths of the views of one 2-D array (an int N: N blocks of nearly equal width).
ViewSizes = Sequence[int] | int | None
#: Names of the views, in order.
ViewNames = Sequence[Hashable] | None
#: Codes of one view, (n, n_concepts): dense, or scipy.sparse (CSR) when most are zero.
Codes = np.ndarray | scipy.sparse.spmatrix
#: Loss names (weight 1 each), a mapping name -> weight, or None (the default recipe).
Losses = Sequence[str] | Mapping[str, float] | str | None
