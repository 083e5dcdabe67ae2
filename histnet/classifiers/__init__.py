"""Linear classifiers on the array backend (numpy or cupy), with scikit-learn's API.

* :class:`LinearSVM`: one-vs-rest L2-regularised squared-hinge SVM (LIBLINEAR's default
  formulation), solved by Newton-CG over all classes at once.
* :class:`StandardScaler`: per-feature standardisation fitted batch by batch.
"""

from ._validation import InvalidInputError, NotFittedEstimatorError
from .linear_svm import LinearSVM
from .scaling import StandardScaler

__all__ = ["LinearSVM", "StandardScaler", "InvalidInputError", "NotFittedEstimatorError"]
