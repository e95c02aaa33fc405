"""Exports a small PyTorch network to ONNX and writes PyTorch's own forward pass and full empirical NTK on the same
inputs, for ntk4j-onnx's tests.

    python3 torch_onnx_reference.py --model mlp,transformer,cnn,ops,tied,activations,resnet18,resnet18_fused,mobilenet_v2 --out DIR

writes, for each model M named (one Python process for all, since importing torch takes seconds), DIR/M/model.onnx, DIR/x.npy (3 inputs), DIR/y.npy (the forward pass, in float64 of the
float32 module and inputs) and DIR/k.npy: the full eNTK
K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p dF(x_n2)_b/dθ_p (a, b flattened outputs), from functorch's Jacobian
(jacrev) contracted over every parameter, in ntk4j's layout [n1, n2, o1, o1', o2, o2', ...]; and DIR/params.txt: the parameter names and sizes, one a line.
torchvision's resnet18 and mobilenet_v2 (num_classes=10, 32x32 inputs; resnet18 with random batch-norm statistics,
mobilenet_v2 with its own, from 16 inputs, so that its output depends on x) are exported with
TrainingMode.PRESERVE so that their BatchNormalization nodes stay; resnet18_fused is the same network exported the
default way (batch norm fused into the convolutions): only its forward pass is written, no k.npy.
The models of ZOO (below) are exported in float64 and write y.npy in float64 and sel.txt, the parameters k.npy is
restricted to.
"""
import argparse
import copy
import os
import time

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


class Tied(torch.nn.Module):
    """One Linear applied to a 3-D value (exported as MatMul with the weight's transpose, which constant folding
    stores as an initializer of its own) and to a 2-D value (Gemm, reading the weight itself): one parameter."""

    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.tanh(self.l(torch.tanh(self.l(x)).mean(1))))


class Activations(torch.nn.Module):
    """What PyTorch writes for its other activations, average pooling with its defaults and F.pad: ELU, SELU, CELU,
    Softplus (and Mish), HardSwish, HardSigmoid, PReLU (one slope per channel), Softsign (Abs), integer powers of
    values of either sign (Pow 4 and -2), AvgPool2d with count_include_pad (a Pad and an AveragePool), F.pad (a Pad
    whose pads a Slice with step -1 reverses), and log_softmax (LogSoftmax) at the end."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.prelu = torch.nn.PReLU(3, init=0.2)
        self.pool = torch.nn.AvgPool2d(3, stride=1, padding=1)
        self.lin = torch.nn.Linear(3 * 4 * 5, 12)
        self.head = torch.nn.Linear(12, 2)

    def forward(self, x):
        h = self.pool(torch.nn.functional.elu(self.prelu(self.conv(x)), 0.75))
        h = torch.nn.functional.pad(h, (1, 0, 1, -1))
        h = self.lin(torch.nn.functional.avg_pool2d(h, 1).flatten(1))
        a, b, c, d, e, f = torch.split(h, 2, dim=1)
        parts = [torch.nn.functional.selu(a), torch.nn.functional.celu(b, 1.25), torch.nn.functional.mish(c),
                 torch.nn.functional.hardswish(d) + torch.nn.functional.hardsigmoid(d),
                 torch.nn.functional.softsign(e) + torch.nn.functional.softplus(e), f.pow(4) + (0.5 + f * f).neg().pow(-2)]
        # a classifier's log-probabilities (LogSoftmax), the last layer of PyTorch's MNIST example
        return torch.nn.functional.log_softmax(self.head(torch.cat(parts, dim=1)), dim=1)


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
    if name == "tied":
        return Tied(), torch.randn(3, 3, 4), 17, True
    if name == "activations":
        return Activations(), torch.randn(3, 2, 6, 6), 17, False
    if name == "cnn":
        # NCHW convolutions (stride, padding, dilation), ReLU6 (Clip), LeakyReLU, global average pooling
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.ReLU6(),
            torch.nn.Conv2d(4, 5, 3, padding=2, dilation=2), torch.nn.LeakyReLU(0.1),
            torch.nn.Conv2d(5, 6, (1, 3), padding=(0, 1), bias=False), torch.nn.Sigmoid(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3))
        x = torch.randn(3, 3, 8, 7)
        return net, x, 13, True
    if name in ("resnet18", "resnet18_fused", "mobilenet_v2"):
        # torchvision's networks in eval mode, seeded random weights, non-trivial batch-norm statistics and affine
        # parameters (a fresh module has mean 0, variance 1, scale 1, shift 0: batch norm would be nearly identity)
        import torchvision
        if name == "mobilenet_v2":
            net = torchvision.models.mobilenet_v2(num_classes=10)
        else:
            net = torchvision.models.resnet18(num_classes=10)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.copy_(0.2 * torch.randn(m.num_features, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                    m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                    m.bias.copy_(0.2 * torch.randn(m.num_features, generator=g))
            if name == "mobilenet_v2":
                # with the random running statistics above, MobileNetV2's output varies by 2e-7 (relative) between
                # inputs, below the tests' float32 tolerances: a comparison could not see a wrong path from x. Its
                # statistics are its own activations' instead (a cumulative average over 16 inputs, as ZOO's), which
                # ResNet-18 does not need (its output varies by 0.15)
                for m in net.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.reset_running_stats()
                        m.momentum = None
                net.train()
                net(torch.randn(16, 3, 32, 32, generator=g))
                net.eval()
        x = torch.randn(3, 3, 32, 32, generator=g)
        # PRESERVE (with the module in eval mode) keeps the BatchNormalization nodes; the default export fuses them
        # into the convolutions, whatever do_constant_folding says
        opset = 13 if name == "mobilenet_v2" else 14
        return net, x, opset, name == "resnet18_fused"
    raise SystemExit("unknown model " + name)


# torchvision's other architectures (OnnxTorchvisionZooTest): name -> (opset, the parameters whose eNTK is compared,
# None for all of them). float64, eval mode, TrainingMode.PRESERVE; the full-size networks at 32x32 compare the
# kernel's restriction to three parameter tensors (the stem's filter, whose derivative runs through every operator,
# one in the middle, one of the head), the reduced-width stand-ins the full eNTK.
ZOO = {
    "squeezenet1_1": (13, ["features.0.weight", "features.9.expand3x3.weight", "classifier.1.weight"]),
    "shufflenet_v2_x0_5": (17, ["conv1.0.weight", "stage3.3.branch2.6.weight", "fc.weight"]),
    # mobilenet_v2 above in float64, its statistics from the same 16-input calibration as the others here
    "mobilenet_v2_f64": (13, ["features.0.0.weight", "features.9.conv.3.weight", "classifier.1.weight"]),
    "mobilenet_v3_small": (13, ["features.0.0.weight", "features.4.block.2.fc1.weight", "classifier.3.weight"]),
    "efficientnet_small": (17, None),
    "convnext_small": (13, None),
    "swin_small": (13, None),
    "ceil_pools": (17, None),
}


class CeilPools(torch.nn.Module):
    """Pooling with ceil_mode=True on an 8x8 map: average pooling padded (count_include_pad True and False) and not,
    max pooling padded and not; the last window of each of the first five reaches past the (padded) input, one
    window more than floor mode (5, 5, 4, 5, 3 against 4, 4, 3, 4, 2). The last, MaxPool2d(2, 3, padding=1), would
    have a fourth window starting past the input and its padding, which ceil mode does not count (3, as floor)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.pools = torch.nn.ModuleList([
            torch.nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True),
            torch.nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
            torch.nn.AvgPool2d(3, 2, ceil_mode=True),
            torch.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
            torch.nn.MaxPool2d(3, 3, ceil_mode=True),
            torch.nn.MaxPool2d(2, 3, padding=1, ceil_mode=True)])
        self.fc = torch.nn.Linear(4 * (3 * 25 + 16 + 9 + 9), 3)

    def forward(self, x):
        h = torch.tanh(self.conv(x))
        return self.fc(torch.cat([p(h).flatten(1) for p in self.pools], 1))


def build_zoo(name):
    import torchvision
    from torchvision.models import convnext, efficientnet, swin_transformer
    torch.manual_seed(0)
    size = 32
    if name == "squeezenet1_1":
        # 34x34: the stem gives 16x16, which ceil mode pools to 8, 4 and 2 (floor mode: 7, 3, 1); at 32x32 the
        # two modes agree
        net, size = torchvision.models.squeezenet1_1(num_classes=10), 34
    elif name == "shufflenet_v2_x0_5":
        net = torchvision.models.shufflenet_v2_x0_5(num_classes=10)
    elif name == "mobilenet_v3_small":
        net = torchvision.models.mobilenet_v3_small(num_classes=10)
    elif name == "mobilenet_v2_f64":
        net = torchvision.models.mobilenet_v2(num_classes=10)
    elif name == "efficientnet_small":
        # efficientnet_b0's blocks (SiLU, squeeze-and-excitation, stochastic depth) at a quarter width and depth
        setting, last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
        net = efficientnet.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=0.2, num_classes=10,
                                        last_channel=last)
    elif name == "convnext_small":
        # convnext_tiny's blocks (depthwise 7x7, LayerNorm over channels by permutes, GELU, layer scale, stochastic
        # depth, LayerNorm2d downsampling) at widths 8 and 16, one block a stage
        net = convnext.ConvNeXt([convnext.CNBlockConfig(8, 16, 1), convnext.CNBlockConfig(16, None, 1)],
                                stochastic_depth_prob=0.1, num_classes=10)
    elif name == "swin_small":
        # swin_t's blocks (shifted windows: torch.roll, the attention mask built by slice assignment, relative
        # position bias gathered from its table, patch merging) at embed_dim 8, windows of 2x2
        net = swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[1, 2],
                                               window_size=[2, 2], num_classes=10)
    elif name == "ceil_pools":
        net, size = CeilPools(), 10
    else:
        raise SystemExit("unknown model " + name)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                # random scales and shifts; the epsilon a float32 value (torchvision's 1e-3 of MobileNetV3, say,
                # is a float32 attribute in the file, 1.00000005e-3: a 1e-11 to 1e-9 relative change of the
                # output in float64, which would hide the comparison's own precision)
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=g))
                m.eps = float(np.float32(m.eps))
                m.reset_running_stats()
                m.momentum = None
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        for _, p in net.named_parameters():
            if p.abs().max() < 1e-3:  # zero biases, ConvNeXt's layer scale of 1e-6
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
        # running statistics of the network's own activations (a cumulative average over 16 inputs): each batch
        # norm then normalises, and the input's signal reaches the output (with statistics drawn at random, a
        # deep network's output hardly depends on its input, 1e-9 relative in MobileNetV3, and a comparison of
        # outputs would not test the path from x)
        net.train()
        net(torch.randn(16, 3, size, size, generator=g))
        net.eval()
    x = torch.randn(3, 3, size, size, generator=g)
    return net.double(), x.double()


def zoo_reference(name, out_dir):
    net, x = build_zoo(name)
    net.eval()
    opset, sel = ZOO[name]
    torch.onnx.export(net, (x,), os.path.join(out_dir, "model.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    if name == "mobilenet_v3_small":
        # the file's function: HardSigmoid's alpha is a float32 attribute, PyTorch's 1/6 as 0.16666667163 (opset 13
        # writes hardswish as x * HardSigmoid(x) too), which ONNX computes with; y_module.npy is PyTorch's own
        with torch.no_grad():
            np.save(os.path.join(out_dir, "y_module.npy"), net(x).numpy())
        slope = float(np.float32(1 / 6))
        torch.nn.functional.hardsigmoid = lambda v, inplace=False: torch.clamp(v * slope + 0.5, 0, 1)
        torch.nn.functional.hardswish = lambda v, inplace=False: v * torch.clamp(v * slope + 0.5, 0, 1)
    with torch.no_grad():
        y = net(x)
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y.numpy())
    names = [n for n, _ in net.named_parameters()]
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for n, p in net.named_parameters():
            fh.write("%s %d\n" % (n, p.numel()))
    sel = names if sel is None else sel
    with open(os.path.join(out_dir, "sel.txt"), "w") as fh:
        fh.write("".join(n + "\n" for n in sel))
    params = {n: p.detach() for n, p in net.named_parameters() if n in sel}
    t0 = time.time()
    jac = jacrev(lambda ps: functional_call(net, ps, (x,)))(params)
    n, o = y.shape
    k = sum(torch.einsum("nap,mbp->nmab", jac[p].reshape(n, o, -1), jac[p].reshape(n, o, -1)) for p in sel)
    print("%s: functorch jacrev + contraction %.1f s" % (name, time.time() - t0), flush=True)
    np.save(os.path.join(out_dir, "k.npy"), k.detach().numpy())
    torch.nn.functional.hardsigmoid, torch.nn.functional.hardswish = HARD


HARD = (torch.nn.functional.hardsigmoid, torch.nn.functional.hardswish)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name in a.model.split(","):
        out = os.path.join(a.out, name)
        os.makedirs(out, exist_ok=True)
        if name in ZOO:
            zoo_reference(name, out)
        else:
            reference(name, out)


def reference(name, out_dir):
    net, x, opset, fold = build(name)
    net.eval()
    path = os.path.join(out_dir, "model.onnx")
    preserve = name in ("resnet18", "mobilenet_v2")
    torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=fold,
                      training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL)
    names = [n for n, _ in net.named_parameters()]
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.no_grad():
        y = net(x)
        # the forward pass in float64, of the float32 weights and inputs widened exactly: the reference holds none of
        # PyTorch's own float32 round-off (1.2e-5 relative in MobileNetV2, as much as the tests' tolerance)
        y64 = copy.deepcopy(net).double()(x.double())
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y64.numpy())

    def f(ps):
        return functional_call(net, ps, (x,))

    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for p in names:
            fh.write("%s %d\n" % (p, params[p].numel()))
    if name == "resnet18_fused":
        return  # the forward pass only: its parameters are the fused ones, not the module's
    t0 = time.time()
    jac = jacrev(f)(params)  # name -> [n, out..., param...]
    n = x.shape[0]
    k = None
    for p in names:
        j = jac.pop(p).reshape(n, -1, params[p].numel())
        # float32 products, float64 sums: the float32 Jacobian, contracted without float32 round-off
        part = torch.einsum("nap,mbp->nmab", j.double(), j.double()) if j.shape[2] < 4096 else \
            sum(torch.einsum("nap,mbp->nmab", c.double(), c.double()) for c in j.split(1 << 20, dim=2))
        k = part if k is None else k + part
    print("%s: functorch jacrev + contraction %.1f s" % (name, time.time() - t0), flush=True)
    # ntk4j's (and neural-tangents') layout: each output axis twice, as the pair (a1, a2)
    out = list(y.shape[1:])
    r = len(out)
    k = k.reshape([n, n] + out + out).permute([0, 1] + [i for j in range(r) for i in (2 + j, 2 + r + j)])
    np.save(os.path.join(out_dir, "k.npy"), k.contiguous().numpy())


if __name__ == "__main__":
    main()
