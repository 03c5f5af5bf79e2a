"""The linear regime: closed forms of the coupled objective and their estimators.

The paper's Appendix D (restated, with the conditions verified, in :doc:`/linear`) solves
the coupled autoencoder when encoders and decoders are linear. Each solution is an estimator
with the multi-view surface of :class:`~skcosae.CoupledSAE` (``fit``, ``transform``,
``inverse_transform``, ``translate``, ``reconstruct``, ``dictionaries_``):

- :class:`MultiViewPCA`: reconstruction alone (Lemma 1), no coupling;
- :class:`CCA`: concept consistency under whitening (Lemmas 2-4), MAXVAR for N > 2 views;
- :class:`ReducedRankRegression`: translation alone (Lemma 5);
- :class:`LinearCoupledAE`: any loss combination, by its closed form where one exists
  (Lemmas 1, 3-7, D.2.3, under the conditions verified in the docs) or by gradient
  descent through the torch backend.

The closed forms are numpy/scipy (:mod:`skcosae.linear._closed_forms`); torch is imported
only by the gradient solver.
"""

from ._cca import CCA
from ._coupled import LinearCoupledAE, PairingNotIdentifiedWarning
from ._pca import MultiViewPCA
from ._rrr import ReducedRankRegression

__all__ = [
    "CCA",
    "LinearCoupledAE",
    "MultiViewPCA",
    "PairingNotIdentifiedWarning",
    "ReducedRankRegression",
]
