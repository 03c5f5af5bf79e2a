"""The ablation tasks of InterVenchA: unlearning, TPP and SCR, for multiclass labels.

Each task names classes; the concepts to ablate are chosen for them on the *source* view,
the ablation is applied to the *target* view (through :class:`~._concept.ConceptAblation`
or :class:`~._latent.LatentAblation`), and the target view's probes, fitted on its original
rows, judge the result. The tasks are drawn once per report (``random_state``), so every
pair of views, every fold and every estimator scored with the same settings faces the same
tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ._postprocess import combine, normalise, normalised_drop

__all__ = ["Tasks", "draw_tasks", "scr_score", "tpp_score", "unlearning_score"]


class Tasks:
    """The drawn tasks (class codes).

    Attributes
    ----------
    unlearning : list of list of int
        One forget class per task.
    tpp : list of list of int
        Class subsets of TPP.
    scr : list of tuple of int
        ``(c00, c01, c10, c11)``: four classes laid out as two binary attributes, the target
        ``A`` (first index) and the spurious ``B`` (second index).
    """

    def __init__(self, unlearning: list[list[int]], tpp: list[list[int]],
                 scr: Sequence[tuple[int, ...]]) -> None:
        self.unlearning = unlearning
        self.tpp = tpp
        self.scr = scr


def draw_tasks(n_classes: int, rng: np.random.Generator, *, n_unlearning: int, n_tpp: int,
               tpp_size: int | None, n_scr: int) -> Tasks:
    """Draw every task with ``rng`` (a :class:`numpy.random.Generator`)."""
    order = rng.permutation(n_classes)
    unlearning = [[int(c)] for c in order[: min(n_unlearning, n_classes)]]
    size = tpp_size if tpp_size is not None else max(1, n_classes // 2)
    size = min(size, n_classes - 1)
    tpp = [sorted(int(c) for c in rng.choice(n_classes, size=size, replace=False))
           for _ in range(n_tpp)]
    scr = []
    if n_classes >= 4:
        scr = [tuple(int(c) for c in rng.choice(n_classes, size=4, replace=False))
               for _ in range(n_scr)]
    return Tasks(unlearning, tpp, scr)


def unlearning_score(pred_orig: np.ndarray, pred_ablated: np.ndarray, pred_zero: np.ndarray,
                     y: np.ndarray, forget: Sequence[int], *, rule: str, p: float,
                     min_gap: float) -> float:
    """Unlearning one set of classes with the target view's multiclass probe.

    - forget ``f``: accuracy on the forget rows, normalised drop from the original
      accuracy towards 0 (no forget row recognised);
    - utility ``u = (A_abl - A_zero) / (A_orig - A_zero)`` on the other rows, where
      ``A_zero`` is the accuracy once every concept is ablated;
    - ``combine(u, f, rule, p)``.
    """
    inside = np.isin(y, forget)
    if not inside.any() or inside.all():
        return 0.0
    correct = {name: pred == y for name, pred in
               (("orig", pred_orig), ("abl", pred_ablated), ("zero", pred_zero))}
    forget_score = normalised_drop(correct["orig"][inside].mean(),
                                   correct["abl"][inside].mean(), 0.0, min_gap)
    utility = normalise(correct["abl"][~inside].mean(), correct["zero"][~inside].mean(),
                        correct["orig"][~inside].mean(), min_gap)
    return combine(utility, forget_score, rule, p)


def tpp_score(bacc_orig: np.ndarray, bacc_ablated: np.ndarray, subset: Iterable[int], *,
              rule: str, p: float, min_gap: float) -> float:
    """Targeted probe perturbation with one-vs-rest probes (chance = 0.5 balanced accuracy).

    Forget ``f``: mean normalised drop of the probes of the classes in ``subset``; utility
    ``u``: mean share of the other classes' probes' accuracy above chance that is kept.
    Probes that are not ``min_gap`` above chance on the original rows are left out.
    """
    inside = np.zeros(len(bacc_orig), dtype=bool)
    inside[list(subset)] = True
    usable = bacc_orig - 0.5 >= max(min_gap, 1e-12)
    forget = [normalised_drop(bacc_orig[c], bacc_ablated[c], 0.5, min_gap)
              for c in np.flatnonzero(inside & usable)]
    kept = [normalise(bacc_ablated[c], 0.5, bacc_orig[c], min_gap)
            for c in np.flatnonzero(~inside & usable)]
    if not forget or not kept:
        return 0.0
    return combine(float(np.mean(kept)), float(np.mean(forget)), rule, p)


def scr_score(acc_base: float, acc_ablated: float, acc_oracle: float, *,
              min_gap: float) -> float:
    """SAEBench's normalised spurious-correlation removal ``(A_abl - A) / (A_oracle - A)``.

    ``A``: the biased probe (trained where ``A`` and ``B`` agree) on rows where they do not
    always agree; ``A_abl``: the same after ablating the concepts of ``B``; ``A_oracle``: a
    probe trained on all four classes.
    """
    return normalise(acc_ablated, acc_base, acc_oracle, min_gap)
