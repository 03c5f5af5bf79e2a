"""Synthetic multi-view data with known ground truth (the paper's Appendix G.1)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .._compat import Interval, validate_params
from .._typing import RandomState, ViewNames
from .._views import as_frame as _as_frame

__all__ = ["make_platonic"]


def _per_view(value, n_views, name):
    """A scalar or one value per view, as a float array of length ``n_views``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n_views, float(arr))
    if arr.shape != (n_views,):
        raise ValueError(
            f"{name} must be a float or a list of {n_views} floats (one per view); "
            f"got {len(arr.ravel())} values."
        )
    return arr


def _random_layers(widths, rng, first_fan_in):
    """Gaussian weight matrices for a chain of layers of the given widths.

    Each layer is scaled by sqrt(2 / fan_in) (He) so that activations keep their scale
    through the ReLUs. The first layer sees sparse inputs: its effective fan-in is the
    number of active concepts, not its width.
    """
    fan_ins = [first_fan_in] + list(widths[1:-1])
    return [
        rng.standard_normal((a, b)) * np.sqrt(2.0 / fan_in)
        for a, b, fan_in in zip(widths[:-1], widths[1:], fan_ins)
    ]


def _exchangeable_concepts(n_samples, n_concepts, n_active, rng):
    """The ``n_active`` largest magnitudes of a standard normal latent, in each row."""
    latent = rng.standard_normal((n_samples, n_concepts))
    top = np.argpartition(-np.abs(latent), n_active - 1, axis=1)[:, :n_active]
    rows = np.arange(n_samples)[:, None]
    concepts = np.zeros_like(latent)
    concepts[rows, top] = np.abs(latent[rows, top])
    return concepts


def _power_law_concepts(n_samples, n_concepts, n_active, a, b, rng):
    """Concepts active independently with power-law frequencies and magnitude scales."""
    rank = rng.permutation(n_concepts) + 1.0
    weights = rank ** -a
    frequencies = np.minimum(1.0, n_active * weights / weights.sum())
    magnitude_scales = rank ** -b
    active = rng.random_sample((n_samples, n_concepts)) < frequencies
    magnitudes = magnitude_scales * np.abs(rng.standard_normal((n_samples, n_concepts)))
    return np.where(active, magnitudes, 0.0), frequencies, magnitude_scales


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_views": [Interval(Integral, 2, None, closed="left")],
        "n_concepts": [Interval(Integral, 1, None, closed="left")],
        "n_active": [Interval(Integral, 1, None, closed="left")],
        "view_dims": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "idiosyncrasy": ["array-like", Interval(Real, 0, 1, closed="left")],
        "noise": ["array-like"],
        "linear": ["boolean"],
        "depth": [Interval(Integral, 2, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left"), None],
        "n_private": [Interval(Integral, 0, None, closed="left")],
        "frequency_exponent": [Interval(Real, 0, None, closed="left")],
        "magnitude_exponent": [Interval(Real, 0, None, closed="left")],
        "view_names": ["array-like", None],
        "as_frame": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_platonic(
    n_samples: int = 10_000,
    n_views: int = 2,
    *,
    n_concepts: int = 64,
    n_active: int = 4,
    view_dims: int | Sequence[int] | None = None,
    n_classes: int = 8,
    idiosyncrasy: float | Sequence[float] = 0.05,
    noise: tuple[float, float] = (0.01, 0.1),
    linear: bool = False,
    depth: int = 2,
    hidden: int | None = None,
    n_private: int = 0,
    frequency_exponent: float = 0.0,
    magnitude_exponent: float = 0.0,
    view_names: ViewNames = None,
    as_frame: bool = False,
    random_state: RandomState = None,
) -> tuple[list[np.ndarray] | pd.DataFrame, np.ndarray, Bunch]:
    """Views of shared sparse "platonic" concepts, each seen through its own random map.

    The data-generating process of the paper (its Appendix G.1; see :doc:`/datasets`):

    1. a platonic latent ``z ~ N(0, I_M)`` keeps, in each row, its ``n_active`` entries of
       largest magnitude, as magnitudes, and zeroes the rest: the sparse concepts ``s``
       shared by every view. These concepts are exchangeable: every concept has the same
       law, so any permutation of them is as likely as the truth. With a positive
       ``frequency_exponent`` or ``magnitude_exponent`` they follow power laws instead
       (see below), as the features of real data do;
    2. each view drops each active concept with its own probability (``idiosyncrasy``:
       what that view is blind to) and adds white noise to the active entries that remain,
       with a standard deviation drawn per view in the range ``noise`` (values clipped at 0);
    3. each view maps its concepts (plus ``n_private`` concepts of its own, if any) to
       ``view_dims[i]`` features through a random network of ``depth`` linear layers with
       ReLUs between them, whose hidden layers have width ``hidden`` (the paper's
       "bottleneck"); or, with ``linear=True``, through one random linear map, so that each
       concept has a known direction (atom) in each view.

    The label of a row is the group of concepts with the largest total activation, the
    concepts being split into ``n_classes`` contiguous groups (``truth.groups``), so every
    row has a label and the classes are balanced.

    Non-exchangeable concepts. With ``frequency_exponent`` ``a > 0`` or
    ``magnitude_exponent`` ``b > 0``, each concept gets a rank ``r`` in ``1..M`` (a random
    permutation: ranks are spread over the class groups) and is active in each row
    independently, with probability ``p_r = min(1, K r^-a / sum_j j^-a)``, so the
    frequencies follow a power law (Zipf for ``a = 1``) and a row has ``K`` active concepts
    on average rather than exactly (a row may have none; its label is then 0). An active
    concept takes the value ``r^-b |g|``, ``g ~ N(0, 1)``: its magnitudes follow the same
    law scaled by a power of its rank. Frequent concepts are thus also the strong ones, and
    no two concepts share a law, so matching the laws of the codes of two views could in
    principle tell the concepts apart (whether training does is measured in :doc:`/results`);
    the classes are no longer balanced. ``truth.frequencies`` and
    ``truth.magnitude_scales`` give ``p`` and ``r^-b`` of each concept. With both exponents
    0 (the default) the generator is the exchangeable one above, draw for draw.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of rows (the same data points in every view).
    n_views : int, default=2
        Number of views, at least 2.
    n_concepts : int, default=64
        Number ``M`` of shared concepts.
    n_active : int, default=4
        Concepts active in each row (``K``), at most ``n_concepts``.
    view_dims : int or list of int, default=None
        Width of each view (an int: the same for all). Default ``64, 80, 96, ...``.
    n_classes : int, default=8
        Number of classes, between 2 and ``n_concepts``.
    idiosyncrasy : float or list of float in [0, 1), default=0.05
        Probability that a view drops an active concept (one value, or one per view).
    noise : (float, float), default=(0.01, 0.1)
        Range ``(low, high)`` of each view's noise standard deviation, drawn uniformly.
    linear : bool, default=False
        One random linear map per view (unit-norm atoms) instead of a ReLU network.
    depth : int, default=2
        Linear layers of the nonlinear map, at least 2 (ignored when ``linear=True``).
    hidden : int, default=None
        Width of the hidden layers of the nonlinear map; default ``2 * n_concepts``. The
        ReLUs make the views a nonlinear function of the concepts, which a dictionary of
        atoms cannot reconstruct exactly (with the defaults, the best linear map from the
        true concepts explains about 80% of each view's variance); with ``linear=True``
        it explains all of it.
    n_private : int, default=0
        Concepts of each view's own (idiosyncratic, not shared), each active in a row with
        probability ``n_active / n_concepts``; returned in ``truth.private_concepts``.
    frequency_exponent : float >= 0, default=0.0
        Exponent ``a`` of the power law of the concepts' activation frequencies (see
        above); 0 with ``magnitude_exponent=0``: exchangeable concepts.
    magnitude_exponent : float >= 0, default=0.0
        Exponent ``b`` of the power law of the concepts' magnitude scales.
    view_names : list, default=None
        Names of the views, used when ``as_frame=True``. Default ``0..N-1``.
    as_frame : bool, default=False
        Return the views as one DataFrame with (view, feature) columns
        (:func:`skcosae.as_frame`), the form scikit-learn's model selection can split.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    Xs : list of ndarray of shape (n_samples, view_dims[i]), or DataFrame
        The views.
    y : ndarray of shape (n_samples,)
        Class labels in ``0..n_classes-1``.
    truth : :class:`~sklearn.utils.Bunch`
        - ``concepts``: (n_samples, n_concepts), the shared sparse concepts;
        - ``view_concepts``: list of (n_samples, n_concepts), the concepts each view saw
          after dropping and noise;
        - ``private_concepts``: list of (n_samples, n_private), each view's own concepts;
        - ``view_maps``: list, per view, of the weight matrices of its map (in order;
          ``X = relu(... relu(c @ W1) ...) @ WL`` where ``c`` is the view's concepts
          followed by its private ones);
        - ``atoms``: with ``linear=True``, list of (n_concepts, view_dims[i]) unit-norm
          arrays (row c is concept c's direction in view i; compare with an estimator's
          ``dictionaries_[i]`` using :func:`atom_recovery_score`); else None;
        - ``groups``: list of the concept indices behind each class;
        - ``frequencies``: (n_concepts,), the probability that each concept is active in a
          row (``n_active / n_concepts`` for exchangeable concepts);
        - ``magnitude_scales``: (n_concepts,), the scale of each concept's magnitudes
          (ones for exchangeable concepts);
        - ``params``: the parameters used (noise level drawn for each view included).

    See Also
    --------
    concept_recovery_score : how well learnt codes recover ``truth.concepts``.
    atom_recovery_score : how well a learnt dictionary recovers ``truth.atoms``.

    Examples
    --------
    >>> from skcosae.datasets import make_platonic
    >>> Xs, y, truth = make_platonic(n_samples=500, n_views=3, random_state=0)
    >>> [X.shape for X in Xs]
    [(500, 64), (500, 80), (500, 96)]
    >>> truth.concepts.shape, int((truth.concepts > 0).sum(1).max())
    ((500, 64), 4)
    >>> sorted(set(y.tolist()))
    [0, 1, 2, 3, 4, 5, 6, 7]
    >>> frame, y, truth = make_platonic(n_samples=5, view_dims=2, linear=True,
    ...                                 view_names=["a", "b"], as_frame=True, random_state=0)
    >>> frame.columns.tolist()
    [('a', 'x0'), ('a', 'x1'), ('b', 'x0'), ('b', 'x1')]
    >>> truth.atoms[0].shape
    (64, 2)

    Heavy-tailed concepts: the most frequent one is active in about 4 / H_64 = 84% of the
    rows (H_64 the harmonic number), the rarest in 1.3%.

    >>> _, _, truth = make_platonic(n_samples=2000, frequency_exponent=1.0, random_state=0)
    >>> round(float(truth.frequencies.max()), 2), round(float(truth.frequencies.min()), 3)
    (0.84, 0.013)
    """
    if n_active > n_concepts:
        raise ValueError(
            f"n_active={n_active} exceeds n_concepts={n_concepts}: a row cannot have more "
            "active concepts than there are concepts."
        )
    if n_classes > n_concepts:
        raise ValueError(
            f"n_classes={n_classes} exceeds n_concepts={n_concepts}: each class needs at "
            "least one concept."
        )
    if view_dims is None:
        view_dims = [64 + 16 * i for i in range(n_views)]
    elif isinstance(view_dims, (int, Integral)):
        view_dims = [int(view_dims)] * n_views
    view_dims = list(view_dims)
    if len(view_dims) != n_views:
        raise ValueError(f"view_dims has {len(view_dims)} widths for n_views={n_views}.")
    for i, d in enumerate(view_dims):
        if not isinstance(d, Integral) or isinstance(d, bool) or d < 1:
            raise ValueError(f"view_dims[{i}] must be a positive int; got {d!r}.")
    view_dims = [int(d) for d in view_dims]
    drop = _per_view(idiosyncrasy, n_views, "idiosyncrasy")
    if np.any((drop < 0) | (drop >= 1)):
        raise ValueError(
            f"idiosyncrasy must be in [0, 1) (a probability of dropping a concept); "
            f"got {idiosyncrasy!r}."
        )
    try:
        low, high = (float(v) for v in noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a pair (low, high) of floats; got {noise!r}.") from None
    if not 0 <= low <= high:
        raise ValueError(f"noise must be a range (low, high) with 0 <= low <= high; got {noise!r}.")
    if view_names is not None and len(view_names) != n_views:
        raise ValueError(f"view_names has {len(view_names)} names for n_views={n_views}.")
    if hidden is None:
        hidden = 2 * n_concepts
    rng = check_random_state(random_state)

    if frequency_exponent == 0 and magnitude_exponent == 0:
        concepts = _exchangeable_concepts(n_samples, n_concepts, n_active, rng)
        frequencies = np.full(n_concepts, n_active / n_concepts)
        magnitude_scales = np.ones(n_concepts)
    else:
        concepts, frequencies, magnitude_scales = _power_law_concepts(
            n_samples, n_concepts, n_active, frequency_exponent, magnitude_exponent, rng)

    groups = np.array_split(np.arange(n_concepts), n_classes)
    y = np.argmax(np.stack([concepts[:, g].sum(1) for g in groups], axis=1), axis=1)

    Xs, view_concepts, private_concepts, view_maps, atoms, sigmas = [], [], [], [], [], []
    for i, d in enumerate(view_dims):
        kept = (concepts > 0) & (rng.random_sample(concepts.shape) >= drop[i])
        sigma = rng.uniform(low, high)
        noisy = concepts + sigma * rng.standard_normal(concepts.shape)
        seen = np.where(kept, np.clip(noisy, 0.0, None), 0.0)
        private = np.where(
            rng.random_sample((n_samples, n_private)) < n_active / n_concepts,
            np.abs(rng.standard_normal((n_samples, n_private))),
            0.0,
        )
        inputs = np.hstack([seen, private])
        if linear:
            A = rng.standard_normal((n_concepts + n_private, d))
            A /= np.linalg.norm(A, axis=1, keepdims=True)
            layers = [A]
            X = inputs @ A
            atoms.append(A[:n_concepts])
        else:
            widths = [n_concepts + n_private] + [hidden] * (depth - 1) + [d]
            layers = _random_layers(widths, rng, first_fan_in=n_active)
            X = inputs
            for W in layers[:-1]:
                X = np.maximum(X @ W, 0.0)
            X = X @ layers[-1]
        Xs.append(X)
        view_concepts.append(seen)
        private_concepts.append(private)
        view_maps.append(layers)
        sigmas.append(sigma)

    truth = Bunch(
        concepts=concepts,
        view_concepts=view_concepts,
        private_concepts=private_concepts,
        view_maps=view_maps,
        atoms=atoms if linear else None,
        groups=groups,
        frequencies=frequencies,
        magnitude_scales=magnitude_scales,
        params=dict(
            n_samples=n_samples, n_views=n_views, n_concepts=n_concepts, n_active=n_active,
            view_dims=view_dims, n_classes=n_classes, idiosyncrasy=drop.tolist(),
            noise=(low, high), noise_std=sigmas, linear=bool(linear),
            depth=1 if linear else depth, hidden=None if linear else hidden,
            n_private=n_private, frequency_exponent=float(frequency_exponent),
            magnitude_exponent=float(magnitude_exponent),
        ),
    )
    if as_frame:
        Xs = _as_frame(Xs, view_names=view_names)
    return Xs, y, truth
