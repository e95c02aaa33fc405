"""Exports small PyTorch networks whose inputs put their max-type operators exactly at ties and kinks (zero
backgrounds, repeated values, values at a clamp's bound) to ONNX in float64, for ntk4j-onnx's OnnxTiesTest.

    python3 torch_onnx_ties.py --model NAME:OPSET,... --out DIR

Each module adds a parameter p holding repeated values (zeros among them) to a scaled input, h = s * x + p, so that
the examples whose x is 0 where p ties put the operator at the tie, and which of the tied elements the derivative goes
to shows in the Jacobian with respect to p. The examples: one all zeros (every window and reduction tied), one of
zeros but for a few pixels of one repeated value (an MNIST-like image: a zero background, saturated strokes), one
with a single pixel per window that decides the maximum, and one random. For each spec, DIR/NAME_OPSET gets
model.onnx (eval mode, float64 module and input, a dynamic batch axis, no constant folding), x.npy, y.npy (PyTorch's
forward pass), params.txt (the parameter names and sizes) and k.npy: the full eNTK from the Jacobian in
float64 (torch.autograd.functional.jacobian: PyTorch's own backward rules), in ntk4j's layout
[n1, n2, o, o'].
"""
import numpy as np
import torch

from torch_export_reference import export_reference, main

F = torch.nn.functional
F32 = lambda v: float(np.float32(v))  # noqa: E731


def tied(*shape, values=(0.0, 0.0, 0.5, 0.0, -0.5, 0.5)):
    """A parameter of the shape holding `values` repeated in row-major order: ties within and across windows."""
    n = int(np.prod(shape))
    v = torch.tensor([values[i % len(values)] for i in range(n)], dtype=torch.float64)
    return torch.nn.Parameter(v.reshape(shape))


def images(c, h, w, seed):
    """Four examples [4, c, h, w]: zeros; a zero background with strokes of 1.0; one pixel of 2.0 at the last
    position of each 2x2 block (it decides those windows); random."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(4, c, h, w, dtype=torch.float64)
    x[1, :, h // 4:h - h // 4, w // 2] = 1.0
    x[1, :, h // 2, w // 4:w - w // 4] = 1.0
    x[2, :, 1::2, 1::2] = 2.0
    x[3] = torch.randn(c, h, w, generator=g, dtype=torch.float64)
    return x


class Pools(torch.nn.Module):
    """h = s x + p; max pooling 2x2/2 (floor), 3x3/1 pad 1 (overlapping windows, -inf padding), 3x3/2 pad 1 of h - 2
    (every value negative: the padding must never win), 2x2/2 with ceil_mode, of the transposed h (windows of W
    before H), max_pool1d over rows; a global max pool (AdaptiveMaxPool2d(1): GlobalMaxPool); then a linear layer."""

    def __init__(self):
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor([0.75], dtype=torch.float64))
        # period 4 on rows of 5: p[r, c + 1] = p[r + 1, c], so windows tie across their anti-diagonal, where the
        # window orders of h and of its transpose differ
        self.p = tied(2, 5, 5, values=(0.0, 0.5, 0.0, -0.5))
        self.out = torch.nn.Linear(2 * (4 + 25 + 9 + 9 + 9 + 10 + 1), 3).double()

    def forward(self, x):
        h = self.s * x + self.p
        n = h.shape[0]
        parts = [F.max_pool2d(h, 2, 2), F.max_pool2d(h, 3, 1, 1), F.max_pool2d(h - 2, 3, 2, 1),
                 F.max_pool2d(h, 2, 2, ceil_mode=True), F.max_pool2d(h.transpose(2, 3), 2, 2, ceil_mode=True),
                 F.max_pool1d(h.reshape(n, 10, 5), 2, 2), F.adaptive_max_pool2d(h, 1)]
        return self.out(torch.cat([q.reshape(n, -1) for q in parts], 1))


class Reductions(torch.nn.Module):
    """amax and amin of h = s x + p [N, 2, 5, 5] over one axis, several axes and all, with and without keepdim."""

    def __init__(self):
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor([0.75], dtype=torch.float64))
        self.p = tied(2, 5, 5)
        self.out = torch.nn.Linear(10 + 2 + 10 + 1 + 2 + 1, 3).double()

    def forward(self, x):
        h = self.s * x + self.p
        n = h.shape[0]
        parts = [h.amax(dim=2), h.amax(dim=(2, 3), keepdim=True), h.amin(dim=3), h.amin(dim=(1, 2, 3)),
                 h.amax(dim=(2, 3)), h.amax(dim=(1, 2, 3), keepdim=True)]
        return self.out(torch.cat([q.reshape(n, -1) for q in parts], 1))


class Elementwise(torch.nn.Module):
    """torch.maximum and torch.minimum of two tied values (and broadcast against a parameter row), Relu, LeakyReLU,
    Abs, PReLU, ELU, SELU, CELU, clamp (both bounds, and min only), where on > and >=, sign and Hardswish at -3 and
    3, each of h = s x + p whose p holds the kinks (0, -3, 3, 1). The file holds SELU's constants as float32:
    after the export (`file32`), the module computes SELU with them, as torch.where(h > 0, ...) does, whose derivative
    at 0 is F.selu's, the negative side's."""

    def __init__(self, opset):
        super().__init__()
        self.opset = opset
        self.s = torch.nn.Parameter(torch.tensor([0.75], dtype=torch.float64))
        self.t = torch.nn.Parameter(torch.tensor([-1.25], dtype=torch.float64))
        self.p = tied(12, values=(0.0, 0.0, 1.0, -3.0, 3.0, 0.0))
        self.q = tied(12, values=(0.0, 0.5, 1.0, -3.0, 0.0, 0.0))
        self.r = tied(1, 12, values=(0.0, 1.0, 0.0, -3.0))
        self.prelu = torch.nn.PReLU(1, init=0.25).double()
        self.out = torch.nn.Linear(12 * 16, 3).double()
        self.hs = torch.nn.Linear(12, 3).double()
        self.file32 = False

    def selu(self, h):
        if not self.file32:
            return F.selu(h)
        a, g = F32(1.6732632423543772848170429916717), F32(1.0507009873554804934193349852946)
        return g * torch.where(h > 0, h, a * (torch.exp(h) - 1))

    def forward(self, x):
        h = self.s * x + self.p
        g = self.t * x + self.q
        parts = [torch.maximum(h, g), torch.minimum(h, g), torch.maximum(h, self.r), torch.minimum(self.r, g),
                 F.relu(h), F.leaky_relu(h, 0.25), h.abs(), self.prelu(h), F.elu(h, 0.5), self.selu(h), F.celu(h, 0.5),
                 h.clamp(0.0, 1.0), g.clamp(min=0.0), torch.where(h > 0, h, 2 * h), torch.where(h >= 0, h, 2 * h),
                 h * torch.sign(g)]
        # Hardswish's derivative at 3 is 1 in PyTorch 1.13's vectorised backward and 3/2 in its scalar loop, which
        # a gradient that is not contiguous (a slice of torch.cat's) or a tensor's last few elements reach: here the
        # gradient is a product's, contiguous, of 48 elements (whole vectors, with AVX2 or AVX-512)
        hs = F.hardswish(h) if self.opset >= 14 else F.relu(h)
        return self.out(torch.cat(parts, 1)) + self.hs(hs)


class Mnist(torch.nn.Module):
    """An MNIST-like CNN on 8x8 images with a zero background: conv (zero bias in two of four channels) -> ReLU ->
    MaxPool2d(2) -> conv -> ReLU -> amax over the image, and nn.AdaptiveMaxPool2d(1) of a view (of a shape the
    exporter does not infer: GlobalMaxPool) -> linear. The zero background puts the ReLUs at 0 and the pooling
    windows at ties."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1).double()
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=1).double()
        with torch.no_grad():
            self.c1.bias[:2] = 0.0
            self.c2.bias[1:3] = 0.0
        self.out = torch.nn.Linear(8, 3).double()

    def forward(self, x):
        h = F.relu(self.c2(F.max_pool2d(F.relu(self.c1(x)), 2)))
        g = F.adaptive_max_pool2d(h.reshape(-1, 4, 4, 4), 1).reshape(h.shape[0], 4)
        return self.out(torch.cat([h.amax(dim=(2, 3)), g], 1))


def build(name, opset):
    torch.manual_seed(0)
    if name == "pools":
        return Pools(), images(2, 5, 5, 1)
    if name == "reductions":
        return Reductions(), images(2, 5, 5, 2)
    if name == "elementwise":
        x = images(1, 3, 4, 3).reshape(4, 12)
        return Elementwise(opset), x
    if name == "mnist":
        return Mnist(), images(1, 8, 8, 4)
    raise SystemExit("unknown model " + name)


def reference(name, opset, out_dir):
    net, x = build(name, opset)
    # file32: the module computes as the file does (float32 attributes) once exported
    export_reference(net, x, out_dir, opset,
                     lambda m: setattr(m, "file32", True) if hasattr(m, "file32") else None)


if __name__ == "__main__":
    main(reference)
