"""The baseline of measure.py's errors: the exact Jacobian (float64, rounded to float32) contracted in float32 by
NumPy, J·Jᵀ, against the same float64 kernel. For the FCN settings (their Jacobian by torch.autograd from the
parameters measure.py drew) and the ONNX setting (onnx_model.py's J32.npy). Prints JSON lines as measure.py.

usage: /usr/bin/python3 baseline.py SETTING OUT_DIR   (SETTING: fcn512 deep onnx; needs torch)
"""
import json
import os
import sys

import numpy as np
import torch

from measure import metrics


def jacobian32(y, ps):
    """J [N, O, P] of the float64 outputs y [N, O] by the parameters ps (autograd, one row at a time), in float32."""
    n, o = y.shape
    jac = np.empty((n, o, sum(p.numel() for p in ps)), np.float32)
    for i in range(n):
        for k in range(o):
            g = torch.autograd.grad(y[i, k], ps, retain_graph=True)
            jac[i, k] = torch.cat([t.reshape(-1) for t in g]).numpy()
    return jac


def fcn_jacobian(params, x, act, w_std=1.5, b_std=0.05):
    """J [N, O, P] of the zoo's fcn (NTK parameterisation) in float64, rounded to float32."""
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]

    def f(x):
        h = x.reshape(x.shape[0], -1)
        for l in range(len(ps) // 2):
            w, b = ps[2 * l], ps[2 * l + 1]
            h = w_std / np.sqrt(w.shape[0]) * h @ w + b_std * b
            if l < len(ps) // 2 - 1:
                h = act(h)
        return h

    return jacobian32(f(torch.tensor(x, dtype=torch.float64)), ps)


def baselines(jac, name, d):
    n, o, p = jac.shape
    full = (jac.reshape(n * o, p) @ jac.reshape(n * o, p).T).reshape(n, o, n, o).transpose(0, 2, 1, 3)
    s = jac.sum(1, dtype=np.float32)
    flat = jac.reshape(n, o * p)
    kernels = {"full": full, "trace": np.einsum("ijoo->ij", full) / np.float32(o),
               "trace_onegemm": (flat @ flat.T) / np.float32(o), "pntk": (s @ s.T) / np.float32(o)}
    for kind, k in kernels.items():
        ref = os.path.join(d, "k64_%s.npy" % kind.split("_")[0])
        if os.path.exists(ref):
            m = metrics(k, np.load(ref))
            print(json.dumps(dict(setting=name, kind=kind, method="baseline: NumPy float32 J·Jᵀ", P=p,
                                  **{a: float("%.3g" % b) for a, b in m.items()})), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    name, out_dir = sys.argv[1], sys.argv[2]
    d = os.path.join(out_dir, name)
    if name == "onnx":
        jac = np.load(os.path.join(d, "J32.npy"))
    else:
        p = np.load(os.path.join(d, "p.npz"))
        keys = sorted(p.keys(), key=lambda k: (int(k.split("_")[0]), 0 if k.endswith("/w") else 1))
        jac = fcn_jacobian([p[k] for k in keys], np.load(os.path.join(d, "x.npy")).astype(np.float64),
                           torch.tanh if name == "deep" else torch.relu)
    baselines(jac, name, d)
