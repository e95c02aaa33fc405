#!/usr/bin/env python3
"""A person as ntk4j's peer: the empirical NTK of ntk4j's zoo `fcn` written by hand in NumPy, layer by layer, the
way a careful user would compute it instead of using a library (no autodiff, no Jacobians).

The network is rebuilt from ntk4j's `.npz` parameter file (`<index>_dense/w` [fan_in, out], `<index>_dense/b`)
with the zoo's NTK parameterisation: z_l = (w_std/sqrt(fan_in))·h_{l-1}·W_l + b_std·b_l, h_l = relu(z_l), the
readout z_{L+1} without activation. With δ_l[n, a] = ∂f_a(x_n)/∂z_l(x_n) (the cotangent at layer l's output for
logit a), the full kernel [N, N, O, O] with x2 = x1 is a sum over layers of Hadamard products:

    K[n, m, a, b] = Σ_l (s_l² <h_{l-1,n}, h_{l-1,m}> + b_std²) · <δ_l[n, a], δ_l[m, b]>,   s_l = w_std/sqrt(fan_in_l)

    δ_{L+1}[n, a] = e_a,   δ_l[n, a] = s_{l+1} (δ_{l+1}[n, a] · W_{l+1}ᵀ) ⊙ relu'(z_l[n])

(the readout's term is (s² HHᵀ + b_std²)[n, m]·[a = b]). One forward pass, one backward pass of the N·O stacked
cotangents (GEMMs of [N·O, W]·[W, W]), N×N activation Grams and (N·O)×(N·O) cotangent Grams.

Writes the kernel of the last timed run as `<out>/numpy_fcn.npy` (in the computation's dtype) and prints one JSON
line: the times of the timed runs (seconds, warm-up excluded), NumPy's version and BLAS, the configuration.

usage: numpy_fcn_ntk.py --params P.npz --x X.npy --w-std S --b-std S [--dtype float32|float64]
                        [--warmup 3] [--reps 10] --out DIR
(threads: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set by the caller)
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np


def load_layers(npz, dtype):
    """[(W [fan_in, out], b [out] or None)] in layer order."""
    layers = {}
    for name in npz.files:
        m = re.fullmatch(r"(\d+)_dense/([wb])", name)
        if m is None:
            raise ValueError("unexpected parameter name %r for a zoo fcn" % name)
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = np.ascontiguousarray(npz[name], dtype=dtype)
    return [(p["w"], p.get("b")) for _, p in sorted(layers.items())]


def fcn_ntk(layers, x, w_std, b_std):
    """The full kernel [N, N, O, O] of x with itself (see the module's docstring)."""
    dt = x.dtype
    n = x.shape[0]
    h = x.reshape(n, -1)
    scales = [dt.type(w_std / np.sqrt(w.shape[0])) for w, _ in layers]
    bias2 = dt.type(b_std * b_std)
    inputs, masks = [], []  # h_{l-1} of every layer, relu'(z_l) of every hidden layer
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        z = (h @ w) * scales[i]
        if b is not None:
            z += dt.type(b_std) * b
        if i < len(layers) - 1:
            mask = z > 0
            masks.append(mask)
            h = z * mask
    o = layers[-1][0].shape[1]
    # the readout: <δ[n, a], δ[m, b]> = [a = b]
    a = scales[-1] ** 2 * (inputs[-1] @ inputs[-1].T)
    if layers[-1][1] is not None:
        a += bias2
    k = a[:, :, None, None] * np.eye(o, dtype=dt)[None, None, :, :]
    # δ of the last hidden layer for every (example, logit): s_{L+1} W_{L+1}[:, a] ⊙ relu'(z_L[n])
    delta = (scales[-1] * layers[-1][0].T)[None, :, :] * masks[-1][:, None, :]  # [N, O, W_L]
    for i in range(len(layers) - 2, -1, -1):
        w, b = layers[i]
        width = w.shape[1]
        d = delta.reshape(n * o, width)
        g = (d @ d.T).reshape(n, o, n, o)  # <δ[n, a], δ[m, b]>
        a = scales[i] ** 2 * (inputs[i] @ inputs[i].T)
        if b is not None:
            a += bias2
        k += a[:, :, None, None] * g.transpose(0, 2, 1, 3)
        if i > 0:
            # δ_{i-1} = s_i (δ_i · W_iᵀ) ⊙ relu'(z_{i-1})
            delta = ((d @ w.T) * scales[i]).reshape(n, o, -1) * masks[i - 1][:, None, :]
    return k


def blas_info():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return "%s %s" % (blas.get("name", "?"), blas.get("version", ""))
    except TypeError:  # NumPy < 1.25: no mode argument
        try:
            from numpy.distutils import system_info  # noqa: F401
        except ImportError:
            pass
        return "see numpy.show_config()"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", required=True)
    ap.add_argument("--x", required=True)
    ap.add_argument("--w-std", type=float, required=True)
    ap.add_argument("--b-std", type=float, required=True)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    dt = np.dtype(args.dtype)
    layers = load_layers(np.load(args.params), dt)
    x = np.ascontiguousarray(np.load(args.x), dtype=dt)
    for _ in range(args.warmup):
        fcn_ntk(layers, x, args.w_std, args.b_std)
    seconds, k = [], None
    for _ in range(max(1, args.reps)):
        t = time.perf_counter()
        k = fcn_ntk(layers, x, args.w_std, args.b_std)
        seconds.append(time.perf_counter() - t)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "numpy_fcn.npy")
    np.save(path, k)
    print(json.dumps({"status": "ran", "seconds": seconds, "kernel": path, "numpy": np.__version__,
                      "blas": blas_info(), "python": sys.version.split()[0], "dtype": args.dtype,
                      "threads": os.environ.get("OPENBLAS_NUM_THREADS", "")}))


if __name__ == "__main__":
    main()
