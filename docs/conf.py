"""Sphinx configuration for skcosae's documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "skcosae"
author = "the skcosae developers"
copyright = "2026, the skcosae developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
autosummary_generate = True
# The set_*_request methods are scikit-learn's metadata-routing plumbing, generated at
# class creation; their docstrings point into scikit-learn's own docs.
autodoc_default_options = {
    "members": True,
    # Document what skcosae's own mixin gives the estimators, not scikit-learn's plumbing.
    "inherited-members": "BaseEstimator, TransformerMixin, _MetadataRequester",
    "exclude-members": "set_fit_request, set_partial_fit_request, set_score_request, "
    "set_transform_request, set_inverse_transform_request",
}
# The numpydoc Parameters sections state every type in words; signatures stay short, as
# scikit-learn's (the hints, for type checkers, expand into numpy's long ArrayLike union).
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# numpydoc's cross-reference checks would flag every plain-English type ("array-like of
# shape (n, d)"); the docstrings follow scikit-learn's conventions instead.
numpydoc_xref_param_type = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
