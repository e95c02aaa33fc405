"""Exports small PyTorch networks that pad by reflection, replication and constants other than zero, and flip values
along their axes, to ONNX in float64, for ntk4j-onnx's OnnxPadsTest.

    python3 torch_onnx_pads.py --model NAME:OPSET,... --out DIR

torch 1.13 writes nn.ReflectionPad1d/2d and F.pad(mode='reflect') as Pad with mode 'reflect', nn.ReplicationPad1d/2d
and F.pad(mode='replicate') as mode 'edge', nn.ConstantPad1d/2d and F.pad(value=v) as mode 'constant' with v as its
constant_value input (at opsets 11, 13 and 17 alike), and torch.flip as a Slice with steps -1 (starts -1, ends
INT64_MIN + 1). For each spec, DIR/NAME_OPSET gets model.onnx (eval mode, float64 module and input, a dynamic batch
axis, no constant folding), x.npy, y.npy (PyTorch's forward pass), params.txt (the parameter names and sizes) and
k.npy: the full eNTK from the Jacobian in float64 (torch.autograd.functional.jacobian), in ntk4j's layout
[n1, n2, o, o'].
"""
import torch

from torch_export_reference import export_reference, main

F = torch.nn.functional
nn = torch.nn


def flat(parts, n):
    return torch.cat([p.reshape(n, -1) for p in parts], 1)


class Pads2d(nn.Module):
    """A convolution's output h [N, 3, 5, 6] (held channels-last by the import) padded by reflection (asymmetric, on
    both spatial axes, and by size - 1: 5 on the width of 6, 4 on the height of 5), replication and constants 0.5,
    -1.5 and 0.25 (the last on the channel axis too); the input x itself padded by reflection and replication; and a
    parameter k [1, 3, 4, 5] padded by replication to h's shape (a value that does not depend on x), times h. (Not
    F.pad(mode='circular'): torch 1.13 writes it as Slices and a Concat that pad other elements than the module does:
    for pads (1, 2), two before and one after.)"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.reflect = nn.ReflectionPad2d((1, 2, 0, 3))
        self.reflect_most = nn.ReflectionPad2d((5, 0, 0, 4))
        self.replicate = nn.ReplicationPad2d((2, 1, 3, 0))
        self.constant = nn.ConstantPad2d((1, 2, 0, 3), 0.5)
        self.k = nn.Parameter(torch.randn(1, 3, 4, 5))
        sizes = [3 * 8 * 9, 3 * 9 * 11, 3 * 8 * 9, 3 * 8 * 9, 2 * 8 * 9, 2 * 7 * 8, 3 * 7 * 8, 4 * 5 * 8, 3 * 5 * 6]
        self.out = nn.Linear(sum(sizes), 4)

    def forward(self, x):
        n = x.shape[0]
        h = torch.tanh(self.conv(x))
        parts = [self.reflect(h), self.reflect_most(h), self.replicate(h), self.constant(h),
                 F.pad(x, (1, 2, 2, 1), mode="reflect"), F.pad(x, (0, 2, 1, 1), mode="replicate"),
                 F.pad(h, (1, 1, 2, 0), mode="constant", value=-1.5), F.pad(h, (1, 1, 0, 0, 1, 0), value=0.25),
                 h * F.pad(self.k, (1, 0, 0, 1), mode="replicate")]
        return self.out(torch.tanh(flat(parts, n)))


class Pads1d(nn.Module):
    """A 1-D convolution's output h [N, 4, 7] padded by reflection (by size - 1 = 6 after, 2 before), replication
    and the constant -0.75; x [N, 3, 7] by reflection; h by the constant 2 on the channel axis and the length."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3, padding=1)
        self.reflect = nn.ReflectionPad1d((2, 6))
        self.replicate = nn.ReplicationPad1d((3, 1))
        self.constant = nn.ConstantPad1d((2, 1), -0.75)
        self.out = nn.Linear(4 * 15 + 4 * 11 + 4 * 10 + 3 * 9 + 4 * 9 + 6 * 8, 3)

    def forward(self, x):
        n = x.shape[0]
        h = torch.tanh(self.conv(x))
        parts = [self.reflect(h), self.replicate(h), self.constant(h), F.pad(x, (1, 1), mode="reflect"),
                 F.pad(h, (0, 2), mode="replicate"), F.pad(h, (1, 0, 1, 1), value=2.0)]
        return self.out(torch.tanh(flat(parts, n)))


class Flips(nn.Module):
    """torch.flip of x along its width, and of its last two axes times a parameter; of a convolution's output h
    (held channels-last) along both spatial axes and along its channels; of a parameter q (a value that does not
    depend on x) along two axes times h; of a weight w along its input axis in a linear layer. (A flip of a value
    known at import is in every pads model: the exporter reverses F.pad's pads by a Slice with step -1; a flip of
    torch.arange made in forward is folded by the trace, and a float buffer is an initializer, which the import takes
    for a parameter.)"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.p = nn.Parameter(torch.randn(2, 5, 6))
        self.q = nn.Parameter(torch.randn(3, 5, 6))
        self.w = nn.Parameter(torch.randn(4, 60) * 0.2)
        self.out = nn.Linear(60 + 90 + 90 + 60 + 90 + 4, 3)

    def forward(self, x):
        n = x.shape[0]
        h = torch.tanh(self.conv(x))
        xs = x.reshape(n, -1)
        parts = [torch.flip(x, [3]), torch.flip(h, [2, 3]), torch.flip(h, [1]), torch.flip(x, [-1, -2]) * self.p,
                 h * torch.flip(self.q, [0, 2]), F.linear(xs, torch.flip(self.w, [1]))]
        return self.out(torch.tanh(flat(parts, n)))


class FlipBatch(nn.Module):
    """A flip of the examples' axis: example n's output reads example N - 1 - n (the examples mix)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 5)
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        h = torch.tanh(self.lin(x))
        return self.out(h + 0.5 * torch.flip(h, [0]))


def build(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name == "pads2d":
        return Pads2d(), torch.randn(3, 2, 5, 6, generator=g, dtype=torch.float64)
    if name == "pads1d":
        return Pads1d(), torch.randn(3, 3, 7, generator=g, dtype=torch.float64)
    if name == "flips":
        return Flips(), torch.randn(3, 2, 5, 6, generator=g, dtype=torch.float64)
    if name == "flipbatch":
        return FlipBatch(), torch.randn(3, 6, generator=g, dtype=torch.float64)
    raise SystemExit("unknown model " + name)


def reference(name, opset, out_dir):
    net, x = build(name)
    export_reference(net, x, out_dir, opset)


if __name__ == "__main__":
    main(reference)
