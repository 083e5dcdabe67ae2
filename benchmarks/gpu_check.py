"""One short check for the first NVIDIA GPU histnet is lent: correctness on real cupy, then speed.

Run from a checkout of the repository, on a machine with nothing but the repository and
Python with histnet's dependencies (histnet itself is imported from the checkout, so it
need not be installed)::

    python benchmarks/gpu_check.py            # about 8 minutes at most
    python benchmarks/gpu_check.py --no-install --budget 120

It prints one JSON line on stdout (progress on stderr) and works through, each step under
its own time limit so the whole stays within ``--budget`` seconds (480 by default):

1. **Is there a GPU?** ``nvidia-smi -L`` and cupy's device count. Without one it says so
   in one line (``"gpu": false`` and the reason) and stops, exit status 0: nothing to
   check is not a failure.
2. **The GPU extra.** If cupy does not import, ``pip install '.[gpu]'`` (unless
   ``--no-install``, which a machine without a network wants: pip would spend minutes
   retrying there). A cupy already installed for another CUDA (``cupy-cuda13x``) is used
   as it is.
3. **Every kernel and layer test on real cupy:** ``tests/test_kernels.py`` (each CUDA kernel
   against the numpy layer it replaces), ``tests/test_backend.py``, the layer tests; counts
   of passed / failed / skipped.
4. **Speed, GPU against CPU (numpy) in the same run:** ``alexnet-cifar`` training images/s
   (batch 128), one RBM CD-1 epoch (10,000 x 784, 500 hidden, batch 100), batched HOG of
   1,000 64 x 128 windows; and PyTorch CUDA on the same net and batch where a CUDA build
   of torch is installed (no install is attempted: the download is large).

``--smoke`` runs steps 3-4 on the CPU stand-in for cupy at tiny sizes (for the test suite,
which has no GPU): it checks that the script's code paths run, not any speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# histnet from this checkout, installed or not: the GPU machine may have its dependencies
# (numpy, cupy, scikit-learn, ...) but not histnet itself, and nothing can be installed there
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time  # noqa: E402  (a sibling module, as the other benchmarks)


def log(msg: str) -> None:
    print(f"[gpu_check] {msg}", file=sys.stderr, flush=True)


def detect() -> dict:
    """What NVIDIA hardware and cupy this machine has."""
    out: dict = {"nvidia_smi": None, "cupy": None, "devices": 0}
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            p = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
            out["nvidia_smi"] = p.stdout.strip() or p.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            out["nvidia_smi"] = f"failed: {e}"
    try:
        import cupy

        out["cupy"] = cupy.__version__
        out["devices"] = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as e:  # ImportError, or a CUDA library failing to load
        out["cupy_error"] = f"{type(e).__name__}: {e}"[:300]
    return out


def install_gpu_extra(timeout: float) -> str:
    cmd = [sys.executable, "-m", "pip", "install", "-q", f"{ROOT}[gpu]"]
    log("installing the GPU extra: " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    return "ok" if p.returncode == 0 else f"failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}"


def run_tests(timeout: float, env: dict) -> dict:
    """The kernel, backend and layer tests, on whatever cupy the environment gives."""
    files = ["tests/test_kernels.py", "tests/test_backend.py", "tests/test_nn_conv.py", "tests/test_nn_core.py",
             "tests/test_nn_blocks.py", "tests/test_nn_winograd.py", "tests/test_nn_conv_chunks.py"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout:.0f} s"}
    tail = (p.stdout.strip().splitlines() or [""])[-1]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}
    return {"status": "ok" if p.returncode == 0 else "failed", "summary": tail, **counts}


def _sync(xp):
    cuda = getattr(xp, "cuda", None)
    if cuda is not None and hasattr(cuda, "Stream"):
        cuda.Stream.null.synchronize()


def time_cnn(device: str, batch: int, steps: int) -> float:
    """alexnet-cifar training images/s on ``device`` (forward, loss, backward, SGD step)."""
    import numpy as np

    from histnet.backend import get_backend
    from histnet.methods import get_method, make_config
    from histnet.nn import SGD, softmax_cross_entropy

    backend = get_backend(device)
    xp = backend.xp
    cls = get_method("alexnet-cifar")
    net = cls(make_config(cls, profile="full"), backend=backend).build(3, 10)
    net.set_rng(xp.random.default_rng(0))
    x = xp.asarray(np.random.default_rng(0).standard_normal((batch, 32, 32, 3)).astype(np.float32))
    y = xp.asarray(np.arange(batch) % 10)
    opt = SGD(net, lr=0.01, momentum=0.9, weight_decay=0.0)

    def step():
        for _ in range(steps):
            loss, d = softmax_cross_entropy(net.forward(x, train=True), y)
            net.backward(d)
            opt.step()

    return batch * steps / best_time(step, 2, lambda: _sync(xp))


def time_rbm(device: str, n: int) -> float:
    """Seconds of one CD-1 epoch of a 784-500 Bernoulli RBM, batch 100."""
    import numpy as np

    from histnet.backend import get_backend
    from histnet.rbm import RBM

    xp = get_backend(device).xp
    X = (np.random.default_rng(0).random((n, 784)) < 0.2).astype(np.float32)
    return best_time(lambda: RBM(500, batch_size=100, learning_rate=0.1, n_iter=1, random_state=0,
                                 device=device).fit(X), 2, lambda: _sync(xp))


def time_hog(device: str, n: int) -> float:
    """HOG windows per second (64 x 128, the paper's descriptor) on ``device``."""
    import numpy as np

    from histnet.backend import get_backend, to_device
    from histnet.features.hog import hog

    xp = get_backend(device).xp
    win = to_device(np.random.default_rng(0).integers(0, 256, (n, 128, 64), dtype=np.uint8), xp)
    return n / best_time(lambda: hog(win), 2, lambda: _sync(xp))


def time_torch_cnn(batch: int, steps: int):
    """PyTorch CUDA on the same net and batch, or None without a CUDA build of torch."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, 1), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
        nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1), nn.Flatten(),
        nn.Linear(4 * 4 * 128, 384), nn.ReLU(), nn.Dropout(0.5), nn.Linear(384, 192), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(192, 10)).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device="cuda")
    y = torch.arange(batch, device="cuda") % 10

    def step():
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    return batch * steps / best_time(step, 2, torch.cuda.synchronize)


def speed(device: str, smoke: bool, deadline: float) -> dict:
    """The three timings on ``device`` and on the CPU, each skipped once the deadline passes."""
    sizes = dict(batch=8, steps=1, rbm=500, hog=20) if smoke else dict(batch=128, steps=5, rbm=10000, hog=1000)
    out: dict = {}
    for key, fn in [("alexnet_cifar_train_img_s", lambda d: time_cnn(d, sizes["batch"], sizes["steps"])),
                    ("rbm_epoch_s", lambda d: time_rbm(d, sizes["rbm"])),
                    ("hog_windows_s", lambda d: time_hog(d, sizes["hog"]))]:
        for dev in (device, "cpu"):
            if time.monotonic() > deadline:
                out[f"{key}_{dev}"] = "skipped: out of time"
                continue
            log(f"timing {key} on {dev}")
            try:
                out[f"{key}_{'gpu' if dev != 'cpu' else 'cpu'}"] = round(fn(dev), 4)
            except Exception as e:  # a failure here is a finding to print, not a reason to stop
                out[f"{key}_{'gpu' if dev != 'cpu' else 'cpu'}"] = f"failed: {type(e).__name__}: {e}"[:300]
    if not smoke and time.monotonic() < deadline:
        out["torch_cuda_alexnet_cifar_train_img_s"] = time_torch_cnn(sizes["batch"], sizes["steps"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check (default 480)")
    ap.add_argument("--no-install", action="store_true", help="never pip install the GPU extra")
    ap.add_argument("--smoke", action="store_true", help="exercise the steps on the CPU stand-in at tiny sizes")
    args = ap.parse_args(argv)
    start = time.monotonic()
    deadline = start + args.budget
    result: dict = {"check": "gpu", "budget_s": args.budget}
    try:
        import histnet

        result["histnet"] = str(Path(histnet.__file__).resolve().parent)
    except ImportError as e:  # a dependency of histnet missing on this machine: say which
        result["histnet"] = f"not importable: {e}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if args.smoke:
        result.update(gpu=False, mode="smoke: the CPU stand-in for cupy, tiny sizes; no speed is measured")
        env["HISTNET_CUPY_STANDIN"] = "1"
        result["tests"] = {"status": "not run in smoke mode (the suite runs them)"}
        result["speed"] = speed("cupy-standin", True, deadline)
    else:
        found = detect()
        result["hardware"] = found
        if not found["devices"] and not args.no_install and found["nvidia_smi"] and "GPU" in found["nvidia_smi"]:
            result["install"] = install_gpu_extra(min(240.0, deadline - time.monotonic()))
            found = detect()
            result["hardware"] = found
        if not found["devices"]:
            why = ("no nvidia-smi and no CUDA device" if not found["nvidia_smi"] else
                   f"nvidia-smi says {found['nvidia_smi']!r} but cupy sees no device "
                   f"({found.get('cupy_error', 'cupy ' + str(found['cupy']))})")
            log(f"no NVIDIA GPU usable here: {why}; nothing to check")
            result.update(gpu=False, reason=why)
            print(json.dumps(result))
            return 0
        result["gpu"] = True
        result["tests"] = run_tests(min(150.0, max(30.0, deadline - time.monotonic() - 120)), env)
        result["speed"] = speed("gpu", False, deadline)
    result["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
