"""Linear classifiers on the array backend (numpy or cupy), with scikit-learn's API.

* :class:`LinearSVM`: one-vs-rest L2-regularised squared-hinge SVM (LIBLINEAR's default
  formulation), solved by Newton-CG over all classes at once.
"""

from ._validation import InvalidInputError, NotFittedEstimatorError
from .linear_svm import LinearSVM

__all__ = ["LinearSVM", "InvalidInputError", "NotFittedEstimatorError"]
