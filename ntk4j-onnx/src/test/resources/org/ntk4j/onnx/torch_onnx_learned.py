"""Exports small PyTorch networks whose parameters reach ONNX operators through inputs that the import once read as
numbers known at import, to ONNX in float64, for ntk4j-onnx's OnnxLearnedInputsTest (audit, 2026-12-07, late night).

    python3 torch_onnx_learned.py --model NAME:OPSET,... --out DIR

gem: GeM pooling (a convolution, softplus, x.clamp(min=eps).pow(p), average pooling, .pow(1 / p)) with a learned
  exponent p [1]: Pow by an initializer, and by a value computed from it.
powvec: |h| ** e of a learned exponent per feature e [3].
powx: 2 ** h and exp(s) ** h (a base computed from a learned scalar s, the exponent from x).
clamp: h.clamp(min=lo, max=hi) and h.clamp(min=lo2) with learned scalar bounds (Clip of computed bounds).
scatter: a slice assignment to a parameter's copy, w = self.w.clone(); w[0, :] = 0; w[:, 1] = self.b (ScatterND of
  a parameter, and of a parameter's values into it).
repeat: torch.repeat_interleave(h, 2, dim=1) of h = x * a (the exporter splits an int64 Expand of the repeats per
  element: a Split of a value known at import), then torch.repeat_interleave of a parameter by a tensor of repeats.
For each spec, DIR/NAME_OPSET gets model.onnx, x.npy, y.npy, params.txt and k.npy (torch_export_reference.py).
"""
import torch

from torch_export_reference import export_reference, main

F = torch.nn.functional


def param(*shape, scale=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.Parameter(scale * torch.randn(*shape, generator=g, dtype=torch.float64))


class GeM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(2, 3, 3)
        self.p = torch.nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        h = F.avg_pool2d(F.softplus(self.c(x)).clamp(min=1e-6).pow(self.p), (4, 3)).pow(1.0 / self.p)
        return self.fc(h.flatten(1))


class PowVec(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = param(4, 3, seed=1)
        self.e = torch.nn.Parameter(torch.tensor([1.7, 2.5, 0.8], dtype=torch.float64))
        self.v = param(3, 3, seed=2)

    def forward(self, x):
        return ((x @ self.w).abs() ** self.e) @ self.v


class PowX(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = param(4, 3, seed=3)
        self.s = torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))
        self.v = param(6, 3, seed=4)

    def forward(self, x):
        h = x @ self.w
        return torch.cat([2 ** h, torch.exp(self.s) ** h], 1) @ self.v


class Clamp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = param(4, 3, seed=5)
        self.lo = torch.nn.Parameter(torch.tensor(-0.2, dtype=torch.float64))
        self.hi = torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))
        self.lo2 = torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float64))
        self.v = param(6, 3, seed=6)

    def forward(self, x):
        h = x @ self.w
        return torch.cat([h.clamp(min=self.lo, max=self.hi), h.clamp(min=self.lo2)], 1) @ self.v


class Scatter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = param(4, 3, seed=7)
        self.b = param(4, seed=8)

    def forward(self, x):
        w = self.w.clone()
        w[0, :] = 0.0
        w[:, 1] = self.b
        return torch.tanh(x @ w)


class Repeat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = param(4, seed=11)
        self.w = param(8, 3, seed=12)
        self.u = param(3, seed=13)

    def forward(self, x):
        h = torch.repeat_interleave(x * self.a, 2, dim=1) @ self.w
        return h * torch.repeat_interleave(self.u, torch.tensor([2, 0, 1]))


def build(name):
    g = torch.Generator().manual_seed(11)
    if name == "gem":
        return GeM(), torch.randn(3, 2, 6, 5, generator=g, dtype=torch.float64)
    nets = {"powvec": PowVec, "powx": PowX, "clamp": Clamp, "scatter": Scatter, "repeat": Repeat}
    if name not in nets:
        raise SystemExit("unknown model " + name)
    torch.manual_seed(12)
    return nets[name](), torch.randn(3, 4, generator=g, dtype=torch.float64)


def reference(name, opset, out_dir):
    net, x = build(name)
    export_reference(net, x, out_dir, opset)


if __name__ == "__main__":
    main(reference)
