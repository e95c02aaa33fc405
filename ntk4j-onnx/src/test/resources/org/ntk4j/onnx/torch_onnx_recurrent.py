"""Recurrent layers beyond the audit's (torch_onnx_audit.py) for ntk4j-onnx's OnnxRecurrentTest, in float64.

    python3 torch_onnx_recurrent.py --out DIR

Each case gets DIR/NAME/model.onnx, x.npy (3 examples), y.npy (the forward pass), params.txt (parameter names and
sizes) and k.npy, the full eNTK K[n1, n2, a, b] from jacrev in ntk4j's layout [n1, n2, o1, o1', ...]:

* exported by torch.onnx (opset 17, rnn_tanh also at 13; eval mode, a dynamic batch): nn.RNN (tanh; relu, 2 layers,
  bidirectional, dropout, sequence-first; bias=False with the whole output sequence Y as the model's output), nn.GRU
  (3 layers, no bias, dropout, an initial state read from each example, h_n as the output), nn.LSTM (bidirectional,
  sequence-first, h0 and c0 read from each example, c_n as the output; 2 layers with the whole sequence as output);
* built with onnx.helper at opset 14 (nodes PyTorch does not write), the reference the ONNX equations in torch: an
  RNN at layout=1, bidirectional, activations Relu then Tanh, its initial state read from x; an LSTM at layout=1,
  reverse, clip, activations Sigmoid, Tanh, Relu, Y_c the only output named; a bidirectional GRU with clip, its
  backward direction's candidate activation Relu, sequence_lens (every example's full length) computed from x's shape;
* built with onnx.helper at opset 14, every activation of the specification, activation_alpha and activation_beta
  consumed in the order of the list (the formulas checked at points worked out by hand first): an LSTM
  bidirectional, HardSigmoid, LeakyRelu, ScaledTanh, Sigmoid, Softsign, Elu; a GRU with linear_before_reset=0 and no
  hidden_size, ThresholdedRelu and HardSigmoid with the operator's defaults, Softplus, Y the output; an RNN at
  layout=1, Affine and Elu with a negative alpha; a GRU without hidden_size, LeakyRelu and Elu with the defaults
  (onnxruntime's GRU and LSTM kernels take the operators' defaults too, its RNN kernel 0); and a GRU with
  linear_before_reset=0 and clip (binding), its initial state read from x; bidirectional RNN nodes
  whose first step in each direction sits exactly at LeakyRelu's and Elu's kink (0), ThresholdedRelu's (alpha) and
  HardSigmoid's breakpoints, against PyTorch's functions there (F.leaky_relu, F.elu, F.threshold, F.hardtanh);
* at the kinks: nn.RNN(nonlinearity="relu") whose every unit is at 0 at the first step (x zero there, b_hh =
  -b_ih), against PyTorch's autograd (relu's derivative 0 there); a bidirectional RNN node with clip 0.5, Relu then
  Tanh, each direction's first step exactly at clip's bounds and at Relu's kink (torch.clamp's derivative 1 at the
  bounds); a forward RNN node listing two activations, the schema default's form (onnxruntime runs the first), the
  second a ScaledTanh without alpha or beta (never run, so not refused);
* refused (model.onnx only): an RNN with Gelu (no recurrent activation), LeakyRelu with two alphas, ScaledTanh
  without beta (the specification's default and onnxruntime's differ), LeakyRelu without alpha (onnxruntime's RNN
  kernel, unlike its GRU and LSTM, takes 0 for it, not the operator's 0.01), Elu with alpha NaN, a GRU without
  hidden_size whose W has 7 rows (no multiple of 3), an RNN without hidden_size whose R disagrees with W, an RNN
  with clip -1, a forward RNN with three activations, a bidirectional GRU with one set of activations (the
  specification and onnxruntime want one a direction), a GRU with layout=2, an LSTM with sequence_lens [5, 4, 5], an
  LSTM with input_forget=1.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as nnf

try:
    from torch.func import functional_call
except ImportError:  # torch 1.13 (Debian)
    from torch.nn.utils.stateless import functional_call

from torch_export_reference import jacrev_kernel, write_reference

N, T, F = 3, 5, 4


class Torch(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        self.name = name
        self.pre = None
        if name == "rnn_tanh":
            self.rnn = torch.nn.RNN(F, 6, batch_first=True)
            self.out = torch.nn.Linear(6, 3)
        elif name == "rnn_relu2bi":
            self.rnn = torch.nn.RNN(F, 5, num_layers=2, nonlinearity="relu", bidirectional=True, dropout=0.3)
            self.out = torch.nn.Linear(10, 3)
        elif name == "rnn_y":
            self.rnn = torch.nn.RNN(F, 5, bias=False, batch_first=True)
        elif name == "rnn_relu_kink":
            self.rnn = torch.nn.RNN(F, 5, nonlinearity="relu", batch_first=True)
            self.out = torch.nn.Linear(5, 3)
        elif name == "gru3_h0x":
            self.pre = torch.nn.Linear(F, 15)
            self.rnn = torch.nn.GRU(F, 5, num_layers=3, bias=False, dropout=0.5, batch_first=True)
        elif name == "lstm_bi_cn":
            self.pre = torch.nn.Linear(F, 20)
            self.rnn = torch.nn.LSTM(F, 5, bidirectional=True)
        elif name == "lstm_y":
            self.rnn = torch.nn.LSTM(F, 5, num_layers=2)
        else:
            raise SystemExit("unknown model " + name)

    def forward(self, x):
        # functional_call (torch 1.13) replaces the weights as attributes; the RNN computes with _flat_weights
        self.rnn._flat_weights = [getattr(self.rnn, w) for w in self.rnn._flat_weights_names]
        n = self.name
        if n in ("rnn_tanh", "rnn_relu_kink"):
            o, _ = self.rnn(x)
            return self.out(o[:, -1])
        if n == "rnn_relu2bi":
            _, h = self.rnn(x.transpose(0, 1))
            return self.out(torch.cat([h[-2], h[-1]], 1))
        if n == "rnn_y":
            return self.rnn(x)[0]
        if n == "gru3_h0x":
            h0 = torch.tanh(self.pre(x[:, 0])).reshape(x.shape[0], 3, 5).transpose(0, 1).contiguous()
            return self.rnn(x, h0)[1].transpose(0, 1)
        if n == "lstm_bi_cn":
            s = torch.tanh(self.pre(x[:, -1])).reshape(x.shape[0], 4, 5).transpose(0, 1)
            _, (h, c) = self.rnn(x.transpose(0, 1), (s[:2].contiguous(), s[2:].contiguous()))
            return c.transpose(0, 1)
        return self.rnn(x.transpose(0, 1))[0].transpose(0, 1)


def save(out_dir, x, y, params, f):
    write_reference(out_dir, x, y, params, jacrev_kernel(f, params, N, list(y.shape[1:])))


def exported(name, opset, out_dir):
    torch.manual_seed(0)
    net = Torch(name).double().eval()
    x = torch.randn(N, T, F, dtype=torch.float64)
    if name == "rnn_relu_kink":
        # every unit exactly at Relu's kink at the first step: x zero there, b_hh = -b_ih, a zero initial state
        x[:, 0] = 0
        with torch.no_grad():
            net.rnn.bias_hh_l0.copy_(-net.rnn.bias_ih_l0)
    torch.onnx.export(net, (x,), os.path.join(out_dir, "model.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    params = {k: p.detach() for k, p in net.named_parameters()}
    with torch.no_grad():
        y = net(x)
    save(out_dir, x, y, params, lambda ps: functional_call(net, ps, (x,)))


def f32(v):
    """A float attribute as the file holds it, a float32, widened."""
    return float(np.float32(v))


# the specification's activations, with onnxruntime's formulas (LeakyRelu and Elu x for x >= 0, ThresholdedRelu x
# for x > alpha, as the ThresholdedRelu operator; the specification's RNN text writes x >= alpha, the same but at
# alpha itself), by PyTorch's functions, whose derivatives at the kinks are the import's: Relu 0 at 0, LeakyRelu and
# Elu alpha at 0, ThresholdedRelu 0 at alpha (F.threshold), HardSigmoid 0 at its breakpoints (F.hardtanh to [0, 1]);
# each with (takes alpha, takes beta) and the defaults of the operators of the same name, None where the
# specification's rule and onnxruntime's RNN, GRU and LSTM kernels (0) disagree and the import refuses a file without
# the value (an RNN node's LeakyRelu, HardSigmoid and Elu too: onnxruntime's RNN kernel takes 0 for every value)
ACTIVATIONS = {
    "Sigmoid": (lambda v, a, b: torch.sigmoid(v), False, False, None, None),
    "Tanh": (lambda v, a, b: torch.tanh(v), False, False, None, None),
    "Relu": (lambda v, a, b: torch.relu(v), False, False, None, None),
    "Affine": (lambda v, a, b: a * v + b, True, True, None, None),
    "LeakyRelu": (lambda v, a, b: nnf.leaky_relu(v, a), True, False, 0.01, None),
    "ThresholdedRelu": (lambda v, a, b: nnf.threshold(v, a, 0.0), True, False, None, None),
    "ScaledTanh": (lambda v, a, b: a * torch.tanh(b * v), True, True, None, None),
    "HardSigmoid": (lambda v, a, b: nnf.hardtanh(a * v + b, 0.0, 1.0), True, True, 0.2, 0.5),
    "Elu": (lambda v, a, b: nnf.elu(v, a), True, False, 1.0, None),
    "Softsign": (lambda v, a, b: v / (1 + v.abs()), False, False, None, None),
    "Softplus": (lambda v, a, b: torch.log(1 + torch.exp(v)), False, False, None, None),
}


def check_activations():
    """The formulas above at points worked out by hand (exact in float64 but for the transcendental ones)."""
    def at(name, v, a=None, b=None):
        return ACTIVATIONS[name][0](torch.tensor(v, dtype=torch.float64), a, b).item()
    assert at("Affine", 2.0, 0.75, 0.5) == 2.0
    assert at("LeakyRelu", -2.0, 1.5) == -3.0 and at("LeakyRelu", 2.0, 1.5) == 2.0
    assert at("ThresholdedRelu", 0.25, 0.25) == 0.0 and at("ThresholdedRelu", 0.5, 0.25) == 0.5
    assert at("ThresholdedRelu", -0.5, -1.0) == -0.5 and at("ThresholdedRelu", 0.125, 0.25) == 0.0
    assert abs(at("ScaledTanh", 0.5, 2.0, 2.0) - 2 * np.tanh(1.0)) < 1e-15
    assert at("HardSigmoid", 1.0, 0.25, 0.5) == 0.75 and at("HardSigmoid", 3.0, 0.25, 0.5) == 1.0
    assert at("HardSigmoid", -3.0, 0.25, 0.5) == 0.0
    assert abs(at("Elu", -1.0, -0.5) - (-0.5) * (np.exp(-1.0) - 1)) < 1e-15 and at("Elu", 2.0, -0.5) == 2.0
    assert at("Softsign", 3.0) == 0.75 and at("Softsign", -1.0) == -0.5
    assert abs(at("Softplus", 0.0) - np.log(2.0)) < 1e-15


def activation_functions(names, alphas, betas):
    """The listed activations as functions, activation_alpha and activation_beta consumed in the order of the list
    (the specification's rule), each function taking what it uses, the operators' defaults once a list runs out
    (None where there is none: that function must never run)."""
    alphas, betas = list(alphas or []), list(betas or [])
    fns = []
    for name in names:
        fn, takes_a, takes_b, da, db = ACTIVATIONS[name]
        a = (f32(alphas.pop(0)) if alphas else da if da is None else f32(da)) if takes_a else None
        b = (f32(betas.pop(0)) if betas else db if db is None else f32(db)) if takes_b else None
        fns.append(lambda v, fn=fn, a=a, b=b: fn(v, a, b))
    assert not alphas and not betas, "values no activation takes"
    return fns


def onnx_recurrent(kind, x, w, r, b, h0, c0, acts, clip, direction, lbr=0, alphas=None, betas=None, first=False):
    """The ONNX specification's RNN, GRU or LSTM on x [T, N, I] (layout 0 tensors): Y [T, dirs, N, H], Y_h, Y_c.
    acts lists every activation the node lists (alphas and betas are consumed over all of them); with first, a
    one-direction RNN listing two runs the first."""
    dirs = w.shape[0]
    h = r.shape[2]
    slots = {"RNN": 1, "GRU": 2, "LSTM": 3}[kind]
    assert len(acts) == slots * dirs or first
    fns = activation_functions(acts, alphas, betas)
    # the file holds clip as a float32 (gru_clip_bi's 0.9 is 0.89999997615814...)
    clip = f32(clip) if clip else None
    cl = (lambda v: v.clamp(-clip, clip)) if clip else (lambda v: v)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        f, g, hh = (fns[d * slots:(d + 1) * slots] + [torch.tanh, torch.tanh])[:3]
        wd, rd = w[d], r[d]
        wb, rb = b[d].chunk(2)
        hp = h0[d] if h0 is not None else torch.zeros(x.shape[1], h, dtype=x.dtype)
        cp = c0[d] if c0 is not None else torch.zeros(x.shape[1], h, dtype=x.dtype)
        out = [None] * x.shape[0]
        order = range(x.shape[0])
        if direction == "reverse" or d == 1:
            order = reversed(order)
        for t in order:
            xt = x[t]
            if kind == "RNN":
                hp = f(cl(xt @ wd.t() + hp @ rd.t() + wb + rb))
            elif kind == "LSTM":
                gi, go, gf, gc = (xt @ wd.t() + hp @ rd.t() + wb + rb).split(h, 1)
                cp = f(cl(gf)) * cp + f(cl(gi)) * g(cl(gc))
                hp = f(cl(go)) * hh(cp)
            else:
                xz, xr, xh = (xt @ wd.t() + wb).split(h, 1)
                hz, hr, hh_ = (hp @ rd.t() + rb).split(h, 1)
                z = f(cl(xz + hz))
                rr = f(cl(xr + hr))
                if lbr:
                    n = g(cl(xh + rr * hh_))
                else:
                    # linear_before_reset = 0: the reset gate before the product with Rh, then Rbh
                    n = g(cl(xh + (rr * hp) @ rd[2 * h:].t() + rb[2 * h:]))
                hp = (1 - z) * n + z * hp
            out[t] = hp
        ys.append(torch.stack(out))
        hs.append(hp)
        cs.append(cp)
    return torch.stack(ys, 1), torch.stack(hs), torch.stack(cs)


def handmade(name, out_dir):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    torch.manual_seed(2)
    x = torch.randn(N, T, F, dtype=torch.float64)
    h = 5
    extra = []
    if name == "rnn_kinks":
        # bidirectional, clip 0.5, Relu forward and Tanh backward; x zero at the first and last steps and
        # Wb + Rb in {0.5, -0.5, 0} exactly (B set below): each direction's first step sits at clip's bounds and
        # at Relu's kink, where torch.clamp's derivative is 1 and torch.relu's 0
        x[:, 0] = 0
        x[:, -1] = 0
        dirs, kind, gates = 2, "RNN", 1
        attrs = dict(direction="bidirectional", clip=0.5, activations=["Relu", "Tanh"])
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("RNN", ["xt", "W", "R", "B"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
        out_shape = ["N", 2, h]
    elif name in KINKS:
        # bidirectional, x zero at the first and last steps and Wb + Rb set below: each direction's first step
        # sits at its activation's kinks (some units) and away from them (others)
        x[:, 0] = 0
        x[:, -1] = 0
        dirs, kind, gates = 2, "RNN", 1
        acts, alphas, betas = KINKS[name][:3]
        attrs = dict(direction="bidirectional", activations=acts, activation_alpha=alphas)
        if betas:
            attrs["activation_beta"] = betas
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("RNN", ["xt", "W", "R", "B"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
        out_shape = ["N", 2, h]
    elif name == "rnn_acts2":
        # one direction and two activations, the form of the schema's default ["Tanh", "Tanh"]: onnxruntime runs
        # the first, here Relu; the second, a ScaledTanh without alpha or beta (which a function that ran could not
        # leave out), never runs and is not refused
        dirs, kind, gates = 1, "RNN", 1
        attrs = dict(activations=["Relu", "ScaledTanh"])
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("RNN", ["xt", "W", "R", "B"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Reshape", ["yh", "shape"], ["y"])]
        extra = [numpy_helper.from_array(np.array([-1, h], dtype=np.int64), "shape")]
        out_shape = ["N", h]
    elif name == "rnn_layout1":
        dirs, kind, gates = 2, "RNN", 1
        attrs = dict(layout=1, direction="bidirectional", activations=["Relu", "Tanh"])
        nodes = [helper.make_node("Gather", ["x", "zero"], ["x0"], axis=1),
                 helper.make_node("MatMul", ["x0", "P"], ["p"]),
                 helper.make_node("Tanh", ["p"], ["pt"]),
                 helper.make_node("Reshape", ["pt", "shape"], ["h0"]),
                 helper.make_node("RNN", ["x", "W", "R", "B", "", "h0"], ["y"], hidden_size=h, **attrs)]
        extra = [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
                 numpy_helper.from_array(np.array([-1, 2, h], dtype=np.int64), "shape")]
        out_shape = ["N", T, 2, h]
    elif name == "lstm_clip_layout1":
        dirs, kind, gates = 1, "LSTM", 4
        attrs = dict(layout=1, direction="reverse", clip=0.75, activations=["Sigmoid", "Tanh", "Relu"])
        nodes = [helper.make_node("LSTM", ["x", "W", "R", "B"], ["", "", "yc"], hidden_size=h, **attrs),
                 helper.make_node("Reshape", ["yc", "shape"], ["y"])]
        extra = [numpy_helper.from_array(np.array([-1, h], dtype=np.int64), "shape")]
        out_shape = ["N", h]
    elif name == "lstm_acts_bi":
        # every slot a function PyTorch does not write, alpha and beta consumed in the order of the list:
        # HardSigmoid (0.3, 0.45), LeakyRelu (1.5: above 1), ScaledTanh (0.9, 1.2), then Sigmoid, Softsign, Elu (0.6)
        dirs, kind, gates = 2, "LSTM", 4
        attrs = dict(direction="bidirectional",
                     activations=["HardSigmoid", "LeakyRelu", "ScaledTanh", "Sigmoid", "Softsign", "Elu"],
                     activation_alpha=[0.3, 1.5, 0.9, 0.6], activation_beta=[0.45, 1.2])
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("LSTM", ["xt", "W", "R", "B"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
        out_shape = ["N", 2, h]
    elif name == "gru_lbr0_acts_bi":
        # linear_before_reset=0, no hidden_size (inferred from W: 3 gates), the whole sequence Y the output;
        # ThresholdedRelu takes the one alpha (0.1), HardSigmoid then the operator's defaults (0.2, 0.5)
        dirs, kind, gates = 2, "GRU", 3
        attrs = dict(direction="bidirectional", linear_before_reset=0,
                     activations=["Sigmoid", "ThresholdedRelu", "HardSigmoid", "Softplus"], activation_alpha=[0.1])
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("GRU", ["xt", "W", "R", "B"], ["yall"], **attrs),
                 helper.make_node("Transpose", ["yall"], ["y"], perm=[2, 0, 1, 3])]
        out_shape = ["N", T, 2, h]
    elif name == "gru_lbr0_clip":
        # linear_before_reset=0 with clip (binding), the default activations, the initial state read from x
        dirs, kind, gates = 1, "GRU", 3
        attrs = dict(linear_before_reset=0, clip=0.7)
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("Gather", ["x", "zero"], ["x0"], axis=1),
                 helper.make_node("MatMul", ["x0", "P"], ["p"]),
                 helper.make_node("Tanh", ["p"], ["pt"]),
                 helper.make_node("Unsqueeze", ["pt", "axes0"], ["h0"]),
                 helper.make_node("GRU", ["xt", "W", "R", "B", "", "h0"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Reshape", ["yh", "shape"], ["y"])]
        extra = [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
                 numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
                 numpy_helper.from_array(np.array([-1, h], dtype=np.int64), "shape")]
        out_shape = ["N", h]
    elif name == "rnn_affine_layout1":
        # layout=1, Affine (0.7 x + 0.1) forward and Elu with a negative alpha (-0.4) backward
        dirs, kind, gates = 2, "RNN", 1
        attrs = dict(layout=1, direction="bidirectional", activations=["Affine", "Elu"],
                     activation_alpha=[0.7, -0.4], activation_beta=[0.1])
        nodes = [helper.make_node("RNN", ["x", "W", "R", "B"], ["y"], hidden_size=h, **attrs)]
        out_shape = ["N", T, 2, h]
    elif name == "gru_defaults_nohidden":
        # no hidden_size (inferred from W), the candidates' LeakyRelu and Elu without alpha: the operators' defaults
        # 0.01 and 1, which onnxruntime's GRU kernel takes too (its RNN kernel takes 0: an RNN node is refused)
        dirs, kind, gates = 2, "GRU", 3
        attrs = dict(direction="bidirectional", linear_before_reset=1,
                     activations=["Sigmoid", "LeakyRelu", "Sigmoid", "Elu"])
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("GRU", ["xt", "W", "R", "B"], ["", "yh"], **attrs),
                 helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
        out_shape = ["N", 2, h]
    else:  # gru_clip_bi
        dirs, kind, gates = 2, "GRU", 3
        attrs = dict(direction="bidirectional", clip=0.9, linear_before_reset=1, activations=["Sigmoid", "Tanh", "Sigmoid", "Relu"])
        # sequence_lens, every example's full length, computed from x's shape: Shape, Gather, Expand, Cast
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 helper.make_node("Shape", ["x"], ["sh"]),
                 helper.make_node("Gather", ["sh", "one"], ["len"], axis=0),
                 helper.make_node("Slice", ["sh", "zero1", "one1"], ["nb"]),
                 helper.make_node("Expand", ["len", "nb"], ["lens64"]),
                 helper.make_node("Cast", ["lens64"], ["lens"], to=TensorProto.INT32),
                 helper.make_node("GRU", ["xt", "W", "R", "B", "lens"], ["", "yh"], hidden_size=h, **attrs),
                 helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
        out_shape = ["N", 2, h]
        extra = [numpy_helper.from_array(np.array(1, dtype=np.int64), "one"),
                 numpy_helper.from_array(np.array([0], dtype=np.int64), "zero1"),
                 numpy_helper.from_array(np.array([1], dtype=np.int64), "one1")]
    params = {"W": torch.randn(dirs, gates * h, F, dtype=torch.float64),
              "R": torch.randn(dirs, gates * h, h, dtype=torch.float64) / 2,
              "B": torch.randn(dirs, 2 * gates * h, dtype=torch.float64) / 2}
    if name == "rnn_kinks":
        wb = torch.tensor([0.25, -0.75, 0.5, 0.75, -0.25], dtype=torch.float64)
        rb = torch.tensor([0.25, 0.25, -0.5, -0.25, -0.25], dtype=torch.float64)
        params["B"] = torch.cat([wb, rb]).repeat(2, 1)
    if name in KINKS:
        # Wb + Rb exactly the pre-activations of the first step (dyadic, so the sums are exact)
        wb = torch.tensor([0.25, -0.75, 0.5, 0.75, -0.25], dtype=torch.float64)
        params["B"] = torch.stack([torch.cat([wb, torch.tensor(sums, dtype=torch.float64) - wb])
                                   for sums in KINKS[name][3:]])
    if name == "rnn_layout1":
        params["P"] = torch.randn(F, 2 * h, dtype=torch.float64) / 2
    if name == "gru_lbr0_clip":
        params["P"] = torch.randn(F, h, dtype=torch.float64)
    inits = [numpy_helper.from_array(v.numpy(), k) for k, v in params.items()] + extra
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", T, F])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, out_shape)], inits)
    onnx.checker.check_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]),
              os.path.join(out_dir, "model.onnx"))

    def f(ps):
        xs = x.transpose(0, 1)
        acts = attrs.get("activations", ["Sigmoid", "Tanh"])
        run = dict(clip=attrs.get("clip"), direction=attrs.get("direction", "forward"),
                   lbr=attrs.get("linear_before_reset", 0), alphas=attrs.get("activation_alpha"),
                   betas=attrs.get("activation_beta"))
        if name == "rnn_layout1":
            h0 = torch.tanh(x[:, 0] @ ps["P"]).reshape(N, 2, h).transpose(0, 1)
            y, _, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], h0, None, acts, **run)
            return y.permute(2, 0, 1, 3)  # layout 1: [N, T, dirs, H]
        if name == "rnn_affine_layout1":
            y, _, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], None, None, acts, **run)
            return y.permute(2, 0, 1, 3)
        if name == "gru_lbr0_acts_bi":
            y, _, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], None, None, acts, **run)
            return y.permute(2, 0, 1, 3)  # Y [T, dirs, N, H] transposed by the graph to [N, T, dirs, H]
        if name == "gru_lbr0_clip":
            h0 = torch.tanh(x[:, 0] @ ps["P"]).unsqueeze(0)
            _, yh, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], h0, None, acts, **run)
            return yh[0]
        if name == "lstm_clip_layout1":
            _, _, c = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], None, None, acts, **run)
            return c[0]
        if name == "rnn_acts2":
            _, yh, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], None, None, acts, first=True, **run)
            return yh[0]
        _, yh, _ = onnx_recurrent(kind, xs, ps["W"], ps["R"], ps["B"], None, None, acts, **run)
        return yh.transpose(0, 1)
    y = f(params)
    if name in KINKS:
        for d, t in ((0, 0), (1, T - 1)):
            pre = x[:, t] @ params["W"][d].t() + params["B"][d, :h] + params["B"][d, h:]
            assert (pre == torch.tensor(KINKS[name][3 + d], dtype=torch.float64)).all(), pre
    if name == "rnn_kinks":
        # the first step of each direction is at the kinks: pre-activations exactly 0.5, -0.5 and 0
        for d, t in ((0, 0), (1, T - 1)):
            pre = x[:, t] @ params["W"][d].t() + params["B"][d, :h] + params["B"][d, h:]
            assert sorted(set(pre.flatten().tolist())) == [-0.5, 0.0, 0.5], pre
    if "clip" in attrs:
        # the clip binds: some gate inputs lie beyond it (checked with the bound tripled: the output changes)
        wide = dict(attrs, clip=3 * attrs["clip"])
        attrs_saved = attrs
        attrs = wide
        assert (f(params) - y).abs().max() > 1e-3, name
        attrs = attrs_saved
    save(out_dir, x, y, params, f)


def refused(name, out_dir):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    h = 2
    batch = "N"
    ins = ["xt", "W", "R"]
    w_rows = r_cols = None  # W's axis 1 and R's axis 2 where they disagree with hidden_size
    hidden = dict(hidden_size=h)
    if name == "refuse_unknown":
        kind, gates, attrs = "RNN", 1, dict(activations=["Gelu"])
    elif name == "refuse_alpha_extra":
        kind, gates, attrs = "RNN", 1, dict(activations=["LeakyRelu"], activation_alpha=[0.1, 0.2])
    elif name == "refuse_beta_nodefault":
        kind, gates, attrs = "RNN", 1, dict(activations=["ScaledTanh"], activation_alpha=[0.5])
    elif name == "refuse_rnn_default":
        kind, gates, attrs = "RNN", 1, dict(activations=["LeakyRelu"])
    elif name == "refuse_alpha_nan":
        kind, gates, attrs = "RNN", 1, dict(activations=["Elu"], activation_alpha=[float("nan")])
    elif name == "refuse_hidden_gates":
        kind, gates, attrs = "GRU", 3, {}
        hidden, w_rows = {}, 7
    elif name == "refuse_hidden_r":
        kind, gates, attrs = "RNN", 1, {}
        hidden, r_cols = {}, 3
    elif name == "refuse_actcount":
        kind, gates, attrs = "GRU", 3, dict(direction="bidirectional", activations=["Sigmoid", "Tanh"])
    elif name == "refuse_clip":
        kind, gates, attrs = "RNN", 1, dict(clip=-1.0)
    elif name == "refuse_rnnacts3":
        kind, gates, attrs = "RNN", 1, dict(activations=["Tanh", "Tanh", "Tanh"])
    elif name == "refuse_layout2":
        kind, gates, attrs = "GRU", 3, dict(layout=2)
    elif name == "refuse_seqlens":
        kind, gates, attrs = "LSTM", 4, {}
        batch = N
        ins = ["xt", "W", "R", "", "lens"]
    else:
        kind, gates, attrs = "LSTM", 4, dict(input_forget=1)
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    inits = [numpy_helper.from_array(np.ones((dirs, w_rows or gates * h, F)), "W"),
             numpy_helper.from_array(np.ones((dirs, gates * h, r_cols or h)), "R"),
             numpy_helper.from_array(np.array([5, 4, 5], dtype=np.int32), "lens")]
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node(kind, ins, ["y"], name="rec", **hidden, **attrs)]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [batch, T, F])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]),
              os.path.join(out_dir, "model.onnx"))


EXPORTED = {"rnn_tanh": (13, 17), "rnn_relu2bi": (17,), "rnn_y": (17,), "rnn_relu_kink": (17,), "gru3_h0x": (17,), "lstm_bi_cn": (17,),
            "lstm_y": (17,)}
# at the kinks: activations, alphas, betas, then each direction's first-step pre-activations (hidden size 5):
# LeakyRelu (0.2) and Elu (0.6) at 0; ThresholdedRelu at its alpha 0.25, HardSigmoid (0.5, 0.5) at -1 and 1, where
# 0.5 x + 0.5 is 0 and 1
KINKS = {"rnn_kinks_leaky_elu": (["LeakyRelu", "Elu"], [0.2, 0.6], None, [0, 0, 0.5, -0.5, 0], [0, -0.25, 0, 0.75, 0]),
         "rnn_kinks_thr_hsig": (["ThresholdedRelu", "HardSigmoid"], [0.25, 0.5], [0.5], [0.25, 0.25, -0.5, 0.75, 0.25],
                                [1, -1, 0.5, 1, -1])}
HANDMADE = ("rnn_layout1", "lstm_clip_layout1", "gru_clip_bi", "rnn_kinks", "rnn_acts2", "lstm_acts_bi",
            "gru_lbr0_acts_bi", "gru_lbr0_clip", "rnn_affine_layout1", "gru_defaults_nohidden") + tuple(KINKS)
REFUSED = ("refuse_unknown", "refuse_alpha_extra", "refuse_beta_nodefault", "refuse_rnn_default", "refuse_alpha_nan",
           "refuse_hidden_gates", "refuse_hidden_r", "refuse_actcount", "refuse_clip", "refuse_rnnacts3",
           "refuse_layout2", "refuse_seqlens", "refuse_forget")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    check_activations()
    for name, opsets in EXPORTED.items():
        for opset in opsets:
            d = os.path.join(a.out, "%s_%d" % (name, opset))
            os.makedirs(d, exist_ok=True)
            exported(name, opset, d)
    for name in HANDMADE + REFUSED:
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        (handmade if name in HANDMADE else refused)(name, d)


if __name__ == "__main__":
    main()
