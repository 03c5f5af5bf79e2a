"""The one home of scikit-learn's private names used by skcosae.

scikit-learn's parameter validation (``Interval``, ``StrOptions``, ``validate_params``,
``_fit_context``) is not public API. Every module imports these names from here, so that a
scikit-learn release that moves or renames them breaks this file alone.
"""

from __future__ import annotations

from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "fit_context",
    "validate_parameter_constraints",
    "validate_params",
]
