"""Data for skcosae: synthetic views with known ground truth, real multi-view data sets,
a loader for your own embeddings, and scores of ground-truth recovery."""

from ._embeddings import load_embeddings
from ._real import load_bbc_news, load_mfeat
from ._recovery import atom_recovery_score, concept_recovery_score
from ._synthetic import make_platonic
from ._wordnet import fetch_wordnet_glosses, get_data_home

__all__ = [
    "make_platonic",
    "concept_recovery_score",
    "atom_recovery_score",
    "load_mfeat",
    "load_bbc_news",
    "load_embeddings",
    "fetch_wordnet_glosses",
    "get_data_home",
]
