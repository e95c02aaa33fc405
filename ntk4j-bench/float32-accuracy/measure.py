"""Float32 accuracy of ntk4j's kernels (docs/kernels.md, "Float32 accuracy"): for one setting, the float32 kernel by
every method and kind against the float64 kernel of the same float32 parameters (--params-out, --params-in) and
inputs. Prints one JSON line per (kind, method): max-abs error over the largest entry, Frobenius, worst diagonal
entry, condition number, smallest eigenvalue's error. Run by ../run-float32-accuracy.sh.

usage: python3 measure.py SETTING OUT_DIR   (SETTING: fcn512 fcn2048 deep cnn resnet18 transformer onnx)
"""
import json
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(args):
    r = subprocess.run([os.path.join(REPO, "ntk4j"), "kernel", "--quiet", "--overwrite", "--standardize", "none"]
                       + args, capture_output=True, text=True)
    if r.returncode:
        sys.exit("ntk4j kernel %s failed: %s" % (" ".join(args), r.stderr[-800:]))


def metrics(k, ref):
    k = k.astype(np.float64)
    d = k - ref
    out = dict(maxabs=np.abs(d).max() / np.abs(ref).max(), frob=np.linalg.norm(d) / np.linalg.norm(ref))
    if ref.ndim == 4:  # [N, N, O, O] as the NO x NO matrix
        n, o = ref.shape[0], ref.shape[2]
        m = ref.transpose(0, 2, 1, 3).reshape(n * o, n * o)
        mk = k.transpose(0, 2, 1, 3).reshape(n * o, n * o)
    else:
        m, mk = ref, k
    out["diag"] = np.max(np.abs(np.diag(mk) - np.diag(m)) / np.abs(np.diag(m)))
    e = np.linalg.eigvalsh((m + m.T) / 2)
    ek = np.linalg.eigvalsh((mk + mk.T) / 2)
    out["cond"] = e[-1] / max(e[0], 1e-300)
    out["eigmin"] = abs(ek[0] - e[0]) / abs(e[0])
    out["eigmin_abs_over_max"] = abs(ek[0] - e[0]) / e[-1]
    return out


def setting(d, name, model, x, kinds=("full", "trace", "pntk"), methods=("jc", "vp", "sd", "auto")):
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    data = os.path.join(d, "x.npy")
    params = os.path.join(d, "p.npz")
    for kind in kinds:
        ref_file = os.path.join(d, "k64_%s.npy" % kind)
        first = True
        for m in methods:
            out = os.path.join(d, "k32_%s_%s.npy" % (m, kind))
            # the first float32 run draws the parameters; the others and the float64 reference read them
            run(["--model", model, "--data", data, "--dtype", "f32", "--method", m, "--kind", kind,
                 "--params-out" if first and kind == kinds[0] else "--params-in", params, "--out", out])
            if first:
                run(["--model", model, "--data", data, "--dtype", "f64", "--method", methods[0], "--kind", kind,
                     "--params-in", params, "--out", ref_file])
                first = False
            row = dict(setting=name, kind=kind, method=m, **metrics(np.load(out), np.load(ref_file)))
            print(json.dumps({a: (float("%.3g" % b) if isinstance(b, float) else b) for a, b in row.items()}),
                  flush=True)


if __name__ == "__main__":
    which, out_dir = sys.argv[1], sys.argv[2]
    d = os.path.join(out_dir, which)
    rng = np.random.default_rng(0)
    if which == "fcn512":
        setting(d, which, "fcn(depth=3,width=512,out=10)", rng.standard_normal((16, 3072)))
    elif which == "fcn2048":
        setting(d, which, "fcn(depth=2,width=2048,out=100)", rng.standard_normal((16, 3072)), kinds=("pntk",),
                methods=("sd", "jc", "vp", "auto"))
    elif which == "deep":
        setting(d, which, "fcn(depth=12,width=256,out=10,act=tanh)", rng.standard_normal((32, 64)))
    elif which == "cnn":
        setting(d, which, "cnn(depth=3,channels=32,out=10)", rng.standard_normal((16, 16, 16, 3)))
    elif which == "resnet18":
        setting(d, which, "resnet18(out=10,width=16)", rng.standard_normal((16, 32, 32, 3)), kinds=("full", "trace"))
    elif which == "transformer":
        setting(d, which, "transformer(layers=2,dim=64,heads=4,out=10)", rng.standard_normal((16, 16, 32)))
    elif which == "onnx":  # onnx_model.py wrote net.onnx, x.npy and J32.npy there
        setting(d, which, os.path.join(d, "net.onnx"), np.load(os.path.join(d, "x.npy")))
    else:
        sys.exit("unknown setting " + which)
