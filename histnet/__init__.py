"""histnet: re-run the road to modern computer vision, side by side.

HOG and dense-SIFT pipelines with linear SVMs (ILSVRC 2010/2011), deep belief nets
(Hinton 2006) and AlexNet (2012), implemented on numpy (CPU) or cupy (GPU), fed by
one dataset module and scored by one evaluation module.
"""

__version__ = "0.1.0"

from .errors import HistnetError  # noqa: E402

__all__ = ["__version__", "HistnetError"]
