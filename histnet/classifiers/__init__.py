"""Linear classifiers on the array backend (numpy or cupy), with scikit-learn's API.

* :class:`LinearSVM`: one-vs-rest L2-regularised squared-hinge SVM (LIBLINEAR's default
  formulation), solved by Newton-CG over all classes at once.
* :class:`SoftmaxRegression`: multinomial logistic regression with an L2 penalty
  (scikit-learn's ``LogisticRegression`` objective), by Newton-CG.
* :class:`StandardScaler`: per-feature standardisation fitted batch by batch.

Their input checks are :mod:`histnet.validation`'s; the two errors they raise for bad data
and for use before ``fit`` are re-exported here from :mod:`histnet.errors`.
"""

from ..errors import InvalidInputError, NotFittedEstimatorError
from .linear_svm import LinearSVM
from .scaling import StandardScaler
from .softmax import SoftmaxRegression

__all__ = ["LinearSVM", "SoftmaxRegression", "StandardScaler", "InvalidInputError", "NotFittedEstimatorError"]
