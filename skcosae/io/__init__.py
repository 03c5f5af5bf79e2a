"""Moving sparse autoencoders between skcosae and other tools.

:func:`save_saelens` writes a fitted :class:`~skcosae.CoupledSAE` as one SAELens folder per
view (``cfg.json`` + ``sae_weights.safetensors``), the layout SAELens, SAEBench,
SAEDashboard and Neuronpedia read; :func:`load_saelens` builds a fitted multi-view estimator,
:class:`SAELensEstimator`, from such folders, whether skcosae or another tool wrote them.
See the user guide, docs/atlas.rst.
"""

from ._saelens import SAELensEstimator, load_saelens, save_saelens

__all__ = ["save_saelens", "load_saelens", "SAELensEstimator"]
