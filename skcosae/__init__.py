"""skcosae: concept-based alignment of representation spaces.

Coupled sparse autoencoders (:class:`CoupledSAE`), their linear closed-form
siblings (:mod:`skcosae.linear`), the InterVenchA benchmark
(:mod:`skcosae.metrics`) and data with known ground truth
(:mod:`skcosae.datasets`), all with a scikit-learn API.

``import skcosae`` stays light: torch is imported only when a torch-backed
estimator is used, and CUDA is never initialised at import.
"""

from typing import TYPE_CHECKING

from ._views import as_frame

if TYPE_CHECKING:
    from .coupled import CoupledSAE

__version__ = "0.1.0.dev0"

__all__ = ["CoupledSAE", "as_frame", "__version__"]


def __getattr__(name: str) -> type:
    # CoupledSAE pulls in torch; import it on first use so `import skcosae` is cheap.
    if name == "CoupledSAE":
        from .coupled import CoupledSAE

        return CoupledSAE
    raise AttributeError(f"module 'skcosae' has no attribute {name!r}")
