"""Exports a small PyTorch network to ONNX and writes PyTorch's own forward pass and full empirical NTK on the same
inputs, for ntk4j-onnx's tests.

    python3 torch_onnx_reference.py --model mlp,transformer,cnn,ops --out DIR

writes, for each model M named (one Python process for all, since importing torch takes seconds), DIR/M/model.onnx, DIR/x.npy (3 inputs), DIR/y.npy (the forward pass, float32) and DIR/k.npy: the full eNTK
K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p dF(x_n2)_b/dθ_p (a, b flattened outputs), from functorch's Jacobian
(jacrev) contracted over every parameter, in ntk4j's layout [n1, n2, o1, o1', o2, o2', ...]; and DIR/params.txt: the parameter names and sizes, one a line.
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


class Ops(torch.nn.Module):
    """Many operators at opset 11 (attributes where later opsets take inputs): Split, Softmax, Pow, Neg, Exp, Log,
    Unsqueeze/Concat (stack), Slice with a step, ReduceSum, Expand (with the exporter's Equal/Where), Sqrt, Div,
    Reshape from Shape/Gather, ReduceMean, Squeeze, MatMul."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 12)
        self.scale = torch.nn.Parameter(torch.rand(4) + 0.5)
        self.w = torch.nn.Parameter(torch.randn(3, 6))

    def forward(self, x):
        h = self.lin(x)
        a, b, c = torch.split(h, [4, 4, 4], dim=1)
        a = torch.softmax(a, dim=1)
        b = torch.sigmoid(b) * self.scale
        c = torch.exp(-c.pow(2)) + torch.log(c.pow(2) + 1.0)
        s = torch.stack([a, b, c], dim=1)[:, ::2, 1:]
        t = s.sum(dim=2, keepdim=True)
        u = torch.sqrt(s * s + 1.0) / t.expand(-1, -1, 3)
        v = u.reshape(u.shape[0], -1)
        v = v - v.mean(dim=1, keepdim=True)
        return torch.matmul(v, self.w.t()) + t.squeeze(-1).sum(dim=1, keepdim=True)


def build(name):
    torch.manual_seed(0)
    if name == "mlp":
        net = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.LayerNorm(16), torch.nn.GELU(),
            torch.nn.Linear(16, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
        x = torch.randn(3, 6)
        return net, x, 17, True
    if name == "transformer":
        net = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1,
                                               batch_first=True)
        x = torch.randn(3, 4, 8)
        return net, x, 14, False
    if name == "ops":
        return Ops(), torch.randn(3, 6), 11, False
    if name == "cnn":
        # NCHW convolutions (stride, padding, dilation), ReLU6 (Clip), LeakyReLU, global average pooling
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.ReLU6(),
            torch.nn.Conv2d(4, 5, 3, padding=2, dilation=2), torch.nn.LeakyReLU(0.1),
            torch.nn.Conv2d(5, 6, (1, 3), padding=(0, 1), bias=False), torch.nn.Sigmoid(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3))
        x = torch.randn(3, 3, 8, 7)
        return net, x, 13, True
    raise SystemExit("unknown model " + name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name in a.model.split(","):
        out = os.path.join(a.out, name)
        os.makedirs(out, exist_ok=True)
        reference(name, out)


def reference(name, out_dir):
    net, x, opset, fold = build(name)
    net.eval()
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=fold)
    names = [n for n, _ in net.named_parameters()]
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.no_grad():
        y = net(x)
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y.numpy())

    def f(ps):
        return functional_call(net, ps, (x,))

    jac = jacrev(f)(params)  # name -> [n, out..., param...]
    n = x.shape[0]
    k = None
    for name in names:
        j = jac[name].reshape(n, -1, params[name].numel()).double()
        part = torch.einsum("nap,mbp->nmab", j, j)
        k = part if k is None else k + part
    # ntk4j's (and neural-tangents') layout: each output axis twice, as the pair (a1, a2)
    out = list(y.shape[1:])
    r = len(out)
    k = k.reshape([n, n] + out + out).permute([0, 1] + [i for j in range(r) for i in (2 + j, 2 + r + j)])
    np.save(os.path.join(out_dir, "k.npy"), k.contiguous().numpy())
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for name in names:
            fh.write("%s %d\n" % (name, params[name].numel()))


if __name__ == "__main__":
    main()
