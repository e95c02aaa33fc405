"""What the PyTorch reference scripts share: the reference files beside an export (write_reference), the full eNTK
from jacrev in ntk4j's layout (jacrev_kernel), and, for torch_onnx_ties.py and torch_onnx_pads.py, one module's
export with its reference (export_reference) and the command line that does so for several NAME:OPSET specs.
TorchReference.run copies this module beside the script it runs.

For each spec, DIR/NAME_OPSET gets model.onnx (eval mode, float64 module and input, a dynamic batch axis, no constant
folding), x.npy, y.npy (PyTorch's forward pass), params.txt (the parameter names and sizes, one a line) and k.npy: the
full eNTK from the Jacobian in float64 (torch.autograd.functional.jacobian: reverse mode, one output at a time, no
vmap, which PReLU's kernel refuses), in ntk4j's layout [n1, n2, o, o'].
"""
import argparse
import os

import numpy as np
import torch

try:
    from torch.func import functional_call, jacrev
except ImportError:  # torch 1.13 (Debian): functorch
    from functorch import jacrev
    from torch.nn.utils.stateless import functional_call


def write_reference(out_dir, x, y, params, k):
    """out_dir/x.npy, y.npy (PyTorch's forward pass), params.txt (the parameter names and sizes, one a line) and
    k.npy (the kernel k, a NumPy array)."""
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y.detach().numpy())
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for p in params:
            fh.write("%s %d\n" % (p, params[p].numel()))
    np.save(os.path.join(out_dir, "k.npy"), k)


def jacrev_kernel(f, params, n, shape):
    """sum_p J_p J_p^T of f(params) (jacrev) in ntk4j's layout [n1, n2, o1, o1', ...], for n examples whose outputs
    have the per-example shape `shape`."""
    jac = jacrev(f)(params)
    k = sum(torch.einsum("nap,mbp->nmab", j.reshape(n, -1, params[p].numel()), j.reshape(n, -1, params[p].numel()))
            for p, j in jac.items())
    r = len(shape)
    k = k.reshape([n, n] + shape + shape).permute([0, 1] + [i for j in range(r) for i in (2 + j, 2 + r + j)])
    return k.detach().contiguous().numpy()


def export_reference(net, x, out_dir, opset, before_forward=None):
    """Exports net (made float64, eval mode) at opset to out_dir/model.onnx and writes the reference files beside
    it; before_forward(net), when given, runs after the export and before PyTorch's forward pass."""
    os.makedirs(out_dir, exist_ok=True)
    net = net.double().eval()
    torch.onnx.export(net, (x,), os.path.join(out_dir, "model.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=False)
    params = {n: p.detach() for n, p in net.named_parameters()}
    if before_forward is not None:
        before_forward(net)
    with torch.no_grad():
        y = net(x)
    n = x.shape[0]
    names = list(params)
    jac = torch.autograd.functional.jacobian(
        lambda *ps: functional_call(net, dict(zip(names, ps)), (x,)), tuple(params[p] for p in names))
    j = torch.cat([jp.reshape(n, y.shape[1], -1) for jp in jac], 2)
    write_reference(out_dir, x, y, params, torch.einsum("nap,mbp->nmab", j, j).detach().contiguous().numpy())


def main(reference):
    """--model NAME:OPSET,... --out DIR: reference(name, opset, DIR/NAME_OPSET) for each spec, on one thread."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for spec in a.model.split(","):
        name, opset = spec.split(":")
        reference(name, int(opset), os.path.join(a.out, "%s_%s" % (name, opset)))
