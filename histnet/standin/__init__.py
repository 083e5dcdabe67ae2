"""The CPU stand-in for cupy, one of histnet's array backends (``device="cupy-standin"``).

It computes with numpy but refuses what cupy refuses, so every path written for the GPU
runs, and fails where the GPU would, on a machine without one. The tests use it for that,
and ``--device gpu`` takes it when ``HISTNET_CUPY_STANDIN=1`` is set
(:func:`histnet.backend.get_backend`).

* :mod:`histnet.standin.arrays`: the array module itself (``xp``), cupy's API over numpy.
* :mod:`histnet.standin.elementwise`: ``ElementwiseKernel`` compiled by the host C++
  compiler, which the array module subclasses for its arrays.

``arrays`` imports ``elementwise``; nothing here imports the rest of histnet, and this
package imports neither module, so importing one loads only what it needs.
"""
