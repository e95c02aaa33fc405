"""Exports small PyTorch networks that are not torchvision classifiers (MLPs of every activation, 1-D convolutions,
text models, nn.TransformerEncoder, GRU and LSTM, GroupNorm and InstanceNorm, a ConvTranspose2d autoencoder,
F.normalize, an NHWC model, two outputs, dict inputs; and the review's edge cases: a hidden size of 13, 3 steps, zero
vectors, states and biases read from the whole batch) to ONNX in float64, for ntk4j-onnx's OnnxAuditModelsTest.

    python3 torch_onnx_audit.py --model NAME:OPSET[:fixed],... --out DIR

For each spec, DIR/NAME_OPSET (DIR/NAME_OPSET_fixed for a batch axis fixed at 3) gets model.onnx (eval mode, float64 module and input, a dynamic batch axis,
TrainingMode.PRESERVE and no constant folding, so that batch norms keep their own parameters), x.npy (3 inputs; an
.npz of one array per input for several), y.npy (PyTorch's forward pass, float64), params.txt (the parameter names
and sizes) and k.npy: the full eNTK K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p dF(x_n2)_b/dθ_p from functorch's
Jacobian (jacrev) in float64, in ntk4j's layout [n1, n2, o1, o1', ...]. Where the file holds an attribute as float32
(SELU's constants; HardSwish's slope at opset 13, written as HardSigmoid), the reference is the module computing
with the file's float32 value; diff.txt then holds the relative distance between the two modules' outputs. A module
of two outputs (twoout) gets y.npy, k.npy for its first and z.npy, k_z.npy for its second. gru_lbr0 is no PyTorch
module: a GRU node with linear_before_reset=0 built with onnx.helper, its reference the ONNX equations in torch.
scalars (learned rank-0 parameters, a rank-0 buffer) is also exported as scalars_folded, with constant folding.
"""
import argparse
import math
import os

import numpy as np
import torch

try:
    from torch.func import functional_call, jacrev
except ImportError:  # torch 1.13 (Debian): functorch
    from functorch import jacrev
    from torch.nn.utils.stateless import functional_call

# float32 attributes (InstanceNormalization's, LayerNormalization's and BatchNormalization's epsilon) hold 2^-17
# exactly
EPS = 2.0 ** -17
F32 = lambda v: float(np.float32(v))  # noqa: E731


class Acts(torch.nn.Module):
    """An MLP through SiLU, ELU, SELU, Softplus (beta 2), Hardswish, Hardtanh, Mish, PReLU (one slope a feature) and
    LeakyReLU. `file32` computes SELU (and, at opset 13, Hardswish) with the file's float32 constants."""

    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(5, 8)
        self.l2 = torch.nn.Linear(8, 8)
        self.l3 = torch.nn.Linear(8, 8)
        self.l4 = torch.nn.Linear(8, 3)
        self.prelu = torch.nn.PReLU(8, init=0.3)
        self.file32 = None  # None: the module's own constants; else the opset

    def selu(self, h):
        if self.file32 is None:
            return torch.nn.functional.selu(h)
        a, g = F32(1.6732632423543772848170429916717), F32(1.0507009873554804934193349852946)
        return g * torch.where(h > 0, h, a * (torch.exp(h) - 1))

    def hardswish(self, h):
        if self.file32 is None or self.file32 >= 14:
            return torch.nn.functional.hardswish(h)
        return h * torch.clamp(F32(1 / 6) * h + 0.5, 0, 1)

    def forward(self, x):
        h = torch.nn.functional.silu(self.l1(x))
        h = torch.nn.functional.elu(h, 0.5) + self.selu(h)
        h = self.l2(h)
        h = torch.nn.functional.softplus(h, beta=2.0) + self.hardswish(2 * h) + torch.nn.functional.hardtanh(h)
        h = self.l3(h)
        h = torch.nn.functional.mish(h) + self.prelu(h) + torch.nn.functional.leaky_relu(h, 0.25)
        return self.l4(torch.nn.functional.dropout(h, 0.3, self.training))


class TextBag(torch.nn.Module):
    """Token ids [N, 6] -> nn.Embedding(30, 8, padding_idx=0) -> the mean over the non-padding positions -> MLP."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(30, 8, padding_idx=0)
        self.hid = torch.nn.Linear(8, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, ids):
        m = (ids != 0).unsqueeze(-1).to(self.emb.weight.dtype)
        h = (self.emb(ids) * m).sum(1) / m.sum(1).clamp(min=1)
        return self.out(torch.relu(self.hid(h)))


class EmbeddingBag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(30, 8, mode="mean")
        self.out = torch.nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(self.bag(ids))


class Conv1d(torch.nn.Module):
    """[N, 3, 12] -> Conv1d(3, 4, 3, padding 1) -> BatchNorm1d -> ReLU -> MaxPool1d(2) -> Conv1d(4, 4, 3, stride 2,
    dilation 2, padding 2) -> AvgPool1d(2) -> Flatten -> Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm1d(4, eps=EPS)
        self.c2 = torch.nn.Conv1d(4, 4, 3, stride=2, dilation=2, padding=2)
        self.out = torch.nn.Linear(4 * 1, 3)
        with torch.no_grad():
            self.bn.weight.copy_(0.5 + torch.rand(4))
            self.bn.bias.copy_(torch.randn(4))
            self.bn.running_mean.copy_(torch.randn(4) / 2)
            self.bn.running_var.copy_(0.5 + torch.rand(4))

    def forward(self, x):
        h = torch.nn.functional.max_pool1d(torch.relu(self.bn(self.c1(x))), 2)    # [N, 4, 6]
        h = torch.nn.functional.avg_pool1d(torch.tanh(self.c2(h)), 2)              # [N, 4, 1]
        return self.out(torch.flatten(h, 1))


class Encoder(torch.nn.Module):
    """nn.TransformerEncoder of two batch-first GELU layers (norm first in the second) and a final LayerNorm, on
    [N, 4, 8], mean pooled, then Linear(8, 3)."""

    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, activation="gelu", batch_first=True,
                                                 layer_norm_eps=EPS)
        self.enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8, eps=EPS),
                                               enable_nested_tensor=False)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.enc(x).mean(1))


class Rnn(torch.nn.Module):
    """nn.GRU or nn.LSTM, batch-first on [N, 5, 4] (or [N, steps, 4]), hidden 6 (or `hidden`), read out at the last
    step (out[:, -1]) or from h_n. h0: False (zeros), True (learned, expanded to the batch) or "mix" (computed from
    each example's first step plus the batch's mean of it: an initial state that mixes the examples)."""

    def __init__(self, kind, layers=1, bidirectional=False, readout="last", h0=False, hidden=6):
        super().__init__()
        states = layers * (2 if bidirectional else 1)
        # a learned initial state, expanded to the batch
        self.h0 = torch.nn.Parameter(torch.randn(states, 1, hidden) / 2) if h0 is True else None
        self.mix = torch.nn.Linear(4, states * hidden) if h0 == "mix" else None
        self.h0_states = states
        cls = torch.nn.GRU if kind == "gru" else torch.nn.LSTM
        self.rnn = cls(4, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        self.readout = readout
        self.out = torch.nn.Linear(hidden * (2 if bidirectional else 1), 3)

    def forward(self, x):
        # functional_call (torch 1.13) replaces the weights as attributes, but the RNN computes with its cached
        # _flat_weights: without this, jacrev sees no dependence on them (a zero Jacobian)
        self.rnn._flat_weights = [getattr(self.rnn, w) for w in self.rnn._flat_weights_names]
        if self.mix is not None:
            s = torch.tanh(self.mix(x[:, 0]))
            s = (s + s.mean(0, keepdim=True)).reshape(x.shape[0], self.h0_states, -1).transpose(0, 1)
            o, h = self.rnn(x, s.contiguous())
        elif self.h0 is None:
            o, h = self.rnn(x)
        else:
            h0 = self.h0.expand(-1, x.shape[0], -1).contiguous()
            o, h = self.rnn(x, h0 if isinstance(self.rnn, torch.nn.GRU) else (h0, torch.tanh(h0)))
        if self.readout == "last":
            return self.out(o[:, -1])
        if isinstance(h, tuple):
            h = h[0]
        return self.out(torch.cat([h[-2], h[-1]], 1) if self.rnn.bidirectional else h[-1])


class Norms(torch.nn.Module):
    """Conv2d -> GroupNorm(2, 4) -> SiLU -> Conv2d -> InstanceNorm2d(4, affine) -> ReLU -> InstanceNorm2d(4) (no
    affine) -> global mean -> Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.gn = torch.nn.GroupNorm(2, 4, eps=EPS)
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.inorm = torch.nn.InstanceNorm2d(4, eps=EPS, affine=True)
        self.plain = torch.nn.InstanceNorm2d(4, eps=EPS)
        self.out = torch.nn.Linear(4, 3)
        with torch.no_grad():
            for m in (self.gn, self.inorm):
                m.weight.copy_(0.5 + torch.rand(4))
                m.bias.copy_(torch.randn(4))

    def forward(self, x):
        h = torch.nn.functional.silu(self.gn(self.c1(x)))
        h = self.plain(torch.relu(self.inorm(self.c2(h))) + h)
        return self.out(h.mean((2, 3)) + h.amax((2, 3)))


class AutoEncoder(torch.nn.Module):
    """[N, 2, 6, 6] -> Conv2d(stride 2) -> ReLU -> ConvTranspose2d(4, 3, 3, stride 2, padding 1, output_padding 1)
    -> tanh -> ConvTranspose2d(3, 2, 2, stride 1, groups 1) ... and nn.Upsample(bilinear) of the code, flattened."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1)                         # [N, 4, 3, 3]
        self.dec = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)  # [N, 3, 6, 6]
        self.grouped = torch.nn.ConvTranspose2d(3, 6, (2, 3), stride=(1, 2), padding=(0, 1), groups=3,
                                                dilation=(2, 1))                       # [N, 6, 8, 11]
        self.up = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        code = torch.relu(self.enc(x))
        rec = torch.tanh(self.dec(code))
        return torch.cat([self.grouped(rec).flatten(1), self.up(code).flatten(1)], dim=1)


class TwoOutputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(5, 8)
        self.logits = torch.nn.Linear(8, 3)
        self.aux = torch.nn.Linear(8, 2)

    def forward(self, x):
        h = torch.tanh(self.body(x))
        return self.logits(h), torch.sigmoid(self.aux(h))


class DictInput(torch.nn.Module):
    """forward(batch) with batch = {'a': [N, 3], 'b': [N, 2, 2]}."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 5)
        self.b = torch.nn.Linear(4, 5)
        self.out = torch.nn.Linear(5, 2)

    def forward(self, batch):
        return self.out(torch.tanh(self.a(batch["a"]) + self.b(batch["b"].flatten(1))))


class Views(torch.nn.Module):
    """nn.Flatten, x.view(x.size(0), -1), x.reshape(len(x), ...) and torch.flatten after convolutions, Dropout2d and
    Dropout in eval; `use_len` reshapes by len(h) instead of h.shape[0]."""

    def __init__(self, use_len=False):
        super().__init__()
        self.use_len = use_len
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.drop = torch.nn.Dropout2d(0.5)
        self.flat = torch.nn.Flatten()
        self.out = torch.nn.Linear(4 * 12, 3)

    def forward(self, x):
        h = self.drop(torch.relu(self.conv(x)))     # [N, 3, 2, 2]
        a = self.flat(h)
        b = h.view(h.size(0), -1)
        # len(h) is a Python number at export: the file holds the export's batch size (refused, naming the cause)
        c = h.reshape(len(h) if self.use_len else h.shape[0], 3, 4).transpose(1, 2).reshape(h.shape[0], 12)
        d = torch.flatten(h, start_dim=1)
        return self.out(torch.nn.functional.dropout(torch.cat([a, b * 2, c, d.sin()], 1), 0.5, self.training))


class Normalize(torch.nn.Module):
    """F.normalize over the features of [N, 6], and over the last axis of [N, 3, 4] (p = 2), a cosine classifier;
    torch.norm(p=1), torch.logsumexp and amin of the same values."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 12)
        self.proto = torch.nn.Parameter(torch.randn(3, 4))

    def forward(self, x):
        h = torch.nn.functional.normalize(self.lin(x), dim=1).view(x.shape[0], 3, 4)
        z = torch.nn.functional.normalize(h + 0.1, dim=-1) @ torch.nn.functional.normalize(self.proto, dim=1).t()
        # ReduceL1, ReduceLogSumExp (of values large enough that exp alone would overflow), ReduceMin
        stats = torch.stack([torch.norm(h, p=1, dim=-1), torch.logsumexp(400 * h, dim=-1) / 400, h.amin(-1)], 2)
        return torch.cat([z.flatten(1), stats.flatten(1)], 1)


class NormalizeZero(torch.nn.Module):
    """F.normalize of a ReLU's output, several of whose rows are all zero (a zero vector's norm, whose derivative
    PyTorch takes as 0), beside the pre-activations."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 24)

    def forward(self, x):
        h = self.lin(x).view(x.shape[0], 6, 4)
        return torch.cat([torch.nn.functional.normalize(torch.relu(h - 0.7), dim=-1), h], 1).flatten(1)


class ConvBiasMixed(torch.nn.Module):
    """Conv2d or ConvTranspose2d (`transposed`) whose bias is scaled by the batch's mean of x: each example's output
    reads the others (a Conv or ConvTranspose node whose bias input depends on the whole batch)."""

    def __init__(self, transposed):
        super().__init__()
        self.transposed = transposed
        self.w = torch.nn.Parameter(torch.randn(3, 2, 3, 3) / 2)
        self.b = torch.nn.Parameter(torch.randn(2))

    def forward(self, x):
        conv = torch.nn.functional.conv_transpose2d if self.transposed else torch.nn.functional.conv2d
        w = self.w if self.transposed else self.w.transpose(0, 1)
        return torch.tanh(conv(x, w, self.b * x.mean())).flatten(1)


class Nhwc(torch.nn.Module):
    """A Keras-style model: NHWC input [N, 5, 5, 2] permuted to NCHW, a convolution, back to NHWC, a Dense on the
    channels (MatMul on the last axis), a global mean over H and W."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.dense = torch.nn.Linear(4, 3)

    def forward(self, x):
        h = torch.relu(self.conv(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        return self.dense(h).mean((1, 2))


class Unusual(torch.nn.Module):
    """One unusual case each: ConvTranspose1d with groups, dilation 2, stride 3, padding 2 and output_padding 2
    (`convt1`); ConvTranspose2d with unequal strides, dilations and paddings per axis, groups and output_padding
    (`convt2`); ConvTranspose1d whose stride 3 and padding 3 exceed its filter's span, 2 (`convt3`); InstanceNorm1d of
    epsilon 0.25, also of two pixels (`inorm`); ReduceL2, ReduceL1, ReduceLogSumExp and ReduceMin over two axes, in
    either order, with and without keepdims (`reduce`). Found exact by the review of 2026-12-07, afternoon."""

    def __init__(self, which):
        super().__init__()
        self.which = which
        if which == "convt1":
            self.t1 = torch.nn.ConvTranspose1d(4, 6, 3, stride=3, padding=2, output_padding=2, groups=2, dilation=2)
        if which == "convt2":
            self.t2 = torch.nn.ConvTranspose2d(2, 4, (2, 3), stride=(1, 3), padding=(1, 3), output_padding=(0, 2),
                                               groups=2, dilation=(3, 2))
        if which == "convt3":
            self.t3 = torch.nn.ConvTranspose1d(4, 2, 2, stride=3, padding=3)
        if which == "inorm":
            self.i1 = torch.nn.InstanceNorm1d(4, eps=0.25, affine=True)
            with torch.no_grad():
                self.i1.weight.copy_(0.5 + torch.rand(4))
                self.i1.bias.copy_(torch.randn(4))
        if which == "reduce":
            self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        if self.which == "convt1":
            return torch.tanh(self.t1(x)).flatten(1)
        if self.which == "convt2":
            return torch.tanh(self.t2(x.view(x.shape[0], 2, 5, 2))).flatten(1)
        if self.which == "convt3":
            return self.t3(x).flatten(1)
        if self.which == "inorm":
            h = self.i1(x)
            one = self.i1(x[:, :, :2] * 2)
            return torch.cat([h.flatten(1), one.flatten(1)], 1)
        h = self.lin(x.transpose(1, 2)).transpose(1, 2)   # [N, 4, 5]
        return torch.cat([torch.norm(h, p=2, dim=(1, 2), keepdim=True).flatten(1),
                          torch.norm(h, p=1, dim=(2, 1)).unsqueeze(1),
                          torch.logsumexp(h, dim=(1, 2)).unsqueeze(1),
                          h.amin((1, 2), keepdim=True).flatten(1),
                          torch.norm(h, p=2, dim=1), h.amin(1)], 1)


class Scalars(torch.nn.Module):
    """Learned scalars: CLIP's temperature `logit_scale` (an nn.Parameter of shape [], used through exp), a bare
    scalar gain (an nn.Parameter of shape [], used by Mul), a scalar buffer `temp` (register_buffer of shape []) and a
    literal 1/sqrt(4) (a Constant node). PyTorch writes the three as initializers of shape [] named by their module
    paths; the two parameters are in named_parameters (the reference eNTK), the buffer is not."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.logit_scale = torch.nn.Parameter(torch.tensor(0.8))
        self.gain = torch.nn.Parameter(torch.tensor(1.3))
        self.register_buffer("temp", torch.tensor(0.7))

    def forward(self, x):
        h = torch.tanh(self.fc(x)) / math.sqrt(4.0)
        return h * self.logit_scale.exp() * self.gain * self.temp


def build(name):
    """The module and its 3 example inputs (a dict for several)."""
    torch.manual_seed(0)
    if name == "acts":
        return Acts(), torch.randn(3, 5)
    if name == "textbag":
        x = torch.randint(0, 30, (3, 6))
        x[0, 4:] = 0
        x[2, 0] = 29
        return TextBag(), x
    if name == "embeddingbag":
        return EmbeddingBag(), torch.randint(0, 30, (3, 6))
    if name == "conv1d":
        return Conv1d(), torch.randn(3, 3, 12)
    if name == "encoder":
        return Encoder(), torch.randn(3, 4, 8)
    if name == "gru":
        return Rnn("gru"), torch.randn(3, 5, 4)
    if name == "gru2bi":
        return Rnn("gru", 2, True, "hn"), torch.randn(3, 5, 4)
    if name == "gru_h0":
        return Rnn("gru", 1, False, "hn", h0=True), torch.randn(3, 5, 4)
    if name == "gru_h0_13":
        # hidden size 13, the import's first dry-run batch: h0 [1, 1, 13] expanded to [1, N, 13]
        return Rnn("gru", 1, False, "hn", h0=True, hidden=13), torch.randn(3, 5, 4)
    if name == "gru_h0_mixed":
        return Rnn("gru", 1, False, "hn", h0="mix"), torch.randn(3, 5, 4)
    if name == "lstm2bi_3steps":
        # 3 steps: the stacked layer's input [3, N, 12] is as long as no example count the checks use
        return Rnn("lstm", 2, True, "hn"), torch.randn(3, 3, 4)
    if name == "conv_bias_mixed":
        return ConvBiasMixed(False), torch.randn(3, 3, 4, 4)
    if name == "convt_bias_mixed":
        return ConvBiasMixed(True), torch.randn(3, 3, 4, 4)
    if name == "normalize_zero":
        return NormalizeZero(), torch.randn(3, 4)
    if name == "lstm_h0":
        return Rnn("lstm", 1, True, "last", h0=True), torch.randn(3, 5, 4)
    if name == "views_len":
        return Views(True), torch.randn(3, 2, 4, 4)
    if name == "lstm":
        return Rnn("lstm"), torch.randn(3, 5, 4)
    if name == "lstm2bi":
        return Rnn("lstm", 2, True, "last"), torch.randn(3, 5, 4)
    if name == "norms":
        return Norms(), torch.randn(3, 2, 5, 5)
    if name == "autoencoder":
        return AutoEncoder(), torch.randn(3, 2, 6, 6)
    if name == "twoout":
        return TwoOutputs(), torch.randn(3, 5)
    if name == "dict":
        return DictInput(), {"a": torch.randn(3, 3), "b": torch.randn(3, 2, 2)}
    if name == "views":
        return Views(), torch.randn(3, 2, 4, 4)
    if name == "normalize":
        return Normalize(), torch.randn(3, 6)
    if name == "nhwc":
        return Nhwc(), torch.randn(3, 5, 5, 2)
    if name in ("scalars", "scalars_folded"):
        return Scalars(), torch.randn(3, 4)
    if name.startswith("unusual_"):
        return Unusual(name[len("unusual_"):]), torch.randn(3, 4, 5)
    raise SystemExit("unknown model " + name)


def contracted(jac, params, n, shape):
    """sum_p J_p J_p^T in ntk4j's layout [n1, n2, o1, o1', ...] for outputs of per-example shape `shape`."""
    k = sum(torch.einsum("nap,mbp->nmab", j.reshape(n, -1, params[p].numel()), j.reshape(n, -1, params[p].numel()))
            for p, j in jac.items())
    r = len(shape)
    k = k.reshape([n, n] + shape + shape).permute([0, 1] + [i for j in range(r) for i in (2 + j, 2 + r + j)])
    return k.detach().contiguous().numpy()


def reference(spec, out_root):
    parts = spec.split(":")
    name, opset = parts[0], int(parts[1])
    fixed = len(parts) > 2 and parts[2] == "fixed"
    if name == "gru_lbr0":
        return handmade_gru(opset, os.path.join(out_root, "%s_%d" % (name, opset)))
    out_dir = os.path.join(out_root, "%s_%d%s" % (name, opset, "_fixed" if fixed else ""))
    os.makedirs(out_dir, exist_ok=True)
    net, x = build(name)
    net = net.double().eval()
    several = isinstance(x, dict)
    if several:
        x = {k: v.double() for k, v in x.items()}
        args = (x, {})
        names = list(x)
    else:
        x = x.double() if x.is_floating_point() else x
        args = (x,)
        names = ["x"]
    outputs = ["y", "z"] if name == "twoout" else ["y"]
    dynamic = None if fixed else {n: {0: "batch"} for n in names + outputs}
    torch.onnx.export(net, args, os.path.join(out_dir, "model.onnx"), input_names=names, output_names=outputs,
                      dynamic_axes=dynamic, opset_version=opset, do_constant_folding=name.endswith("_folded"),
                      training=torch.onnx.TrainingMode.PRESERVE)
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.no_grad():
        ys = net(x)
        if hasattr(net, "file32"):
            net.file32 = opset
            own = ys
            ys = net(x)
            with open(os.path.join(out_dir, "diff.txt"), "w") as fh:
                fh.write("%.3e\n" % float((own - ys).norm() / ys.norm()))
    ys = ys if isinstance(ys, tuple) else (ys,)
    if several:
        np.savez(os.path.join(out_dir, "x.npz"), **{k: v.numpy() for k, v in x.items()})
    else:
        np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for p in params:
            fh.write("%s %d\n" % (p, params[p].numel()))
    n = 3
    for i, (oname, y) in enumerate(zip(outputs, ys)):
        np.save(os.path.join(out_dir, oname + ".npy"), y.detach().numpy())

        def f(ps, i=i):
            out = functional_call(net, ps, args[:1])
            return out[i] if isinstance(out, tuple) else out
        k = contracted(jacrev(f)(params), params, n, list(y.shape[1:]))
        np.save(os.path.join(out_dir, "k.npy" if i == 0 else "k_" + oname + ".npy"), k)


def handmade_gru(opset, out_dir):
    """A GRU node that PyTorch does not write, built with onnx.helper: linear_before_reset=0 (Keras's
    reset_after=False), direction reverse, hidden 5, on x [N, 4, 3] (Transpose to [4, N, 3]); the output is Y_h
    [1, N, 5] reshaped to [N, 5]. The reference is the ONNX specification's equations written in torch."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(1)
    h, i, steps = 5, 3, 4
    params = {"W": torch.randn(1, 3 * h, i, dtype=torch.float64) / 2,
              "R": torch.randn(1, 3 * h, h, dtype=torch.float64) / 2,
              "B": torch.randn(1, 6 * h, dtype=torch.float64) / 2}
    x = torch.randn(3, steps, i, dtype=torch.float64)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("GRU", ["xt", "W", "R", "B"], ["Y", "Y_h"], hidden_size=h, linear_before_reset=0,
                              direction="reverse"),
             helper.make_node("Reshape", ["Y_h", "shape"], ["y"])]
    inits = [numpy_helper.from_array(v.numpy(), k) for k, v in params.items()]
    inits.append(numpy_helper.from_array(np.array([-1, h], dtype=np.int64), "shape"))
    graph = helper.make_graph(nodes, "gru", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", steps, i])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", h])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]),
              os.path.join(out_dir, "model.onnx"))

    def f(ps, x=x):
        w, r, b = ps["W"][0], ps["R"][0], ps["B"][0]
        wz, wr, wh = w.split(h)
        rz, rr, rh = r.split(h)
        wbz, wbr, wbh, rbz, rbr, rbh = b.split(h)
        hp = torch.zeros(x.shape[0], h, dtype=x.dtype)
        for t in reversed(range(steps)):
            xt = x[:, t]
            z = torch.sigmoid(xt @ wz.t() + hp @ rz.t() + wbz + rbz)
            rr_ = torch.sigmoid(xt @ wr.t() + hp @ rr.t() + wbr + rbr)
            n = torch.tanh(xt @ wh.t() + (rr_ * hp) @ rh.t() + rbh + wbh)
            hp = (1 - z) * n + z * hp
        return hp
    y = f(params)
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y.numpy())
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for p in params:
            fh.write("%s %d\n" % (p, params[p].numel()))
    np.save(os.path.join(out_dir, "k.npy"), contracted(jacrev(f)(params), params, 3, [h]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for spec in a.model.split(","):
        reference(spec, a.out)


if __name__ == "__main__":
    main()
