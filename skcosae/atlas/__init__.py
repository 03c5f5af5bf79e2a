"""The concept atlas: which concepts the views share, which are private, what each fires on.

:func:`concept_atlas` encodes data with a fitted multi-view estimator and returns a
:class:`ConceptAtlas`: a table with one row per concept (per-view frequency and activation,
cross-view agreement, ``kind`` in {"shared", "private", "dead"}), each concept's
top-activating rows in every view, matplotlib figures and a self-contained HTML page.
See docs/atlas.rst.
"""

from ._atlas import ConceptAtlas, concept_atlas

__all__ = ["concept_atlas", "ConceptAtlas"]
