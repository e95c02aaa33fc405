"""Exports small PyTorch networks built on the operators that common modules and functions export and that the
import added on 2026-12-07 (evening), to ONNX in float64, for ntk4j-onnx's OnnxCoverageTest.

    python3 torch_onnx_coverage.py --model NAME:OPSET,... --out DIR

pixelshuffle: nn.PixelShuffle (DepthToSpace, mode CRD) between convolutions, and nn.PixelUnshuffle.
stats: torch.var and torch.std (their element count is a ReduceProd of the input's shape), torch.prod (ReduceProd of
  values, zeros among them: the all-zero example holds one zero per row, and some rows two), torch.cumsum over two
  axes.
elementwise: torch.atan, asin, acos, tan, floor, ceil, round (at halves: to even), nn.Hardshrink (an Or of two
  comparisons), and And and Xor of comparisons selecting by torch.where, of h = s x + p, whose p puts the all-zero example at the steps, the halves and the shrink's bounds.
onehot: F.one_hot of int64 token ids [N, 5] (OneHot, then a Cast) times a table, an embedding of the same ids, and
  a linear layer of both.
For each spec, DIR/NAME_OPSET gets model.onnx, x.npy, y.npy, params.txt and k.npy (torch_export_reference.py).
"""
import torch

from torch_export_reference import export_reference, main

F = torch.nn.functional


def param(*values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


class PixelShuffle(torch.nn.Module):
    """conv 2 -> 8 channels, PixelShuffle(2) (DepthToSpace), tanh, conv 2 -> 4, PixelUnshuffle(2), linear."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.out = torch.nn.Linear(16 * 4 * 4, 3)

    def forward(self, x):
        h = torch.tanh(F.pixel_shuffle(self.c1(x), 2))
        h = F.pixel_unshuffle(self.c2(h), 2)
        return self.out(h.reshape(h.shape[0], -1))


class Stats(torch.nn.Module):
    """h = s x + p [N, 3, 4]; var over the last axis (unbiased, keepdim), std over axis 1 (unbiased), var of all
    (biased), prod over the last axis and of h + 1 over axis 1, cumsum over both axes; then a linear layer."""

    def __init__(self):
        super().__init__()
        self.s = param(0.75)
        # rows of the all-zero example: one zero, two zeros, none
        self.p = torch.nn.Parameter(torch.tensor([[0.5, 0.0, -1.5, 1.25], [0.0, 2.0, 0.0, -0.5],
                                                  [1.5, -1.0, 0.75, 2.0]], dtype=torch.float64))
        self.out = torch.nn.Linear(3 + 4 + 1 + 3 + 4 + 12 + 12, 3)

    def forward(self, x):
        h = self.s * x + self.p
        n = h.shape[0]
        parts = [torch.var(h, 2, keepdim=True), torch.std(h, 1), torch.var(h.reshape(n, -1), 1, unbiased=False),
                 torch.prod(h, 2), torch.prod(h + 1, 1), torch.cumsum(h, 2), torch.cumsum(h, 1)]
        return self.out(torch.cat([q.reshape(n, -1) for q in parts], 1))


class Elementwise(torch.nn.Module):
    """h = s x + p [N, 8] and g = tanh(h) / 2; atan(h), asin(g), acos(g), tan(h / 4), h * floor(h), h * ceil(h),
    h * round(h) (halves to even), hardshrink(h, 0.5) (at its bounds ±0.5 in the all-zero example: 0, derivative 0),
    where((h > 0) & (h < 2), h, h²) (And) and where(logical_xor(h > 0, h > 1), h, −h) (Xor); then a linear layer."""

    def __init__(self):
        super().__init__()
        self.s = param(0.75)
        self.p = param(0.5, -0.5, 1.5, 2.5, -1.5, 0.0, 1.0, -2.25)
        self.out = torch.nn.Linear(8 * 10, 3)

    def forward(self, x):
        h = self.s * x + self.p
        g = torch.tanh(h) / 2
        parts = [torch.atan(h), torch.asin(g), torch.acos(g), torch.tan(h / 4), h * torch.floor(h),
                 h * torch.ceil(h), h * torch.round(h), F.hardshrink(h, 0.5),
                 torch.where((h > 0) & (h < 2), h, h * h), torch.where(torch.logical_xor(h > 0, h > 1), h, -h)]
        return self.out(torch.cat(parts, 1))


class OneHot(torch.nn.Module):
    """ids [N, 5] in [0, 6): tanh(one_hot(ids, 6) @ t) [N, 5, 4] and embedding(ids) [N, 5, 4], summed over the
    positions, then a linear layer."""

    def __init__(self):
        super().__init__()
        self.t = torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float64))
        self.emb = torch.nn.Embedding(6, 4)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, ids):
        h = torch.tanh(F.one_hot(ids, 6).double() @ self.t)
        return self.out(torch.cat([h.sum(1), self.emb(ids).sum(1)], 1))


def build(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name == "onehot":
        return OneHot(), torch.tensor([[0, 1, 2, 3, 4], [5, 5, 0, 1, 1], [2, 2, 2, 2, 2], [3, 0, 4, 1, 5]])
    if name == "pixelshuffle":
        return PixelShuffle(), torch.randn(4, 2, 4, 4, generator=g, dtype=torch.float64)
    x = torch.randn(4, 3, 4, generator=g, dtype=torch.float64)
    x[0] = 0.0
    if name == "stats":
        return Stats(), x
    if name == "elementwise":
        return Elementwise(), x.reshape(4, 12)[:, :8].contiguous()
    raise SystemExit("unknown model " + name)


def reference(name, opset, out_dir):
    net, x = build(name)
    export_reference(net, x, out_dir, opset)


if __name__ == "__main__":
    main(reference)
