"""Data for skcosae: synthetic views with known ground truth and recovery scores."""

from ._recovery import atom_recovery_score, concept_recovery_score
from ._synthetic import make_platonic

__all__ = ["make_platonic", "concept_recovery_score", "atom_recovery_score"]
