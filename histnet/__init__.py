"""histnet: re-run the road to modern computer vision, side by side.

HOG and dense-SIFT pipelines with linear SVMs (ILSVRC 2010/2011), deep belief nets
(Hinton 2006) and AlexNet (2012), implemented on numpy (CPU) or cupy (GPU), fed by
one dataset module and scored by one evaluation module.
"""

__version__ = "0.1.0"

import os as _os

# OpenBLAS's idle threads spin for about 2**28 cycles after each GEMM before they sleep, and
# while they spin they hold the cores that histnet's elementwise layer threads need
# (histnet.nn.parallel): max-pool backward right after a GEMM took 36-43 ms on two threads
# with the default and 21 ms with 4, the shortest spin; the RBM epoch, all GEMMs, did not
# change. OpenBLAS reads this once, when numpy first loads it, so it only takes effect when
# histnet is imported before numpy (the CLI does); a value already set is kept.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .errors import HistnetError  # noqa: E402

__all__ = ["__version__", "HistnetError"]
