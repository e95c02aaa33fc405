"""Exports small non-CNN PyTorch networks (what researchers export: transformer encoders, attention, layer norm,
MLPs, embeddings, skips by concatenation, reshapes, torch.einsum, F.interpolate and a U-Net-like up path) to ONNX in float64, for ntk4j-onnx's
OnnxResearchModelsTest.

    python3 torch_onnx_research.py --model NAME[:OPSET[:fixed]],... --out DIR

For each spec, DIR/NAME_OPSET_dyn (or _fixed) gets model.onnx (exported in eval mode, float64 module and input, with
a dynamic batch axis, or with the batch fixed at 3 for `fixed`), x.npy (3 inputs), y.npy (PyTorch's forward pass,
float64), params.txt (the parameter names and sizes, one a line) and k.npy: the full eNTK
K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p dF(x_n2)_b/dθ_p from functorch's Jacobian (jacrev) in float64, in ntk4j's
layout [n1, n2, o1, o1', ...]. OPSET defaults to torch's default (14 in torch 1.13). The text models (embedding,
text_encoder) take int64 token ids, saved as an int64 x.npy; their eNTK includes the embedding table.
"""
import argparse
import os

import numpy as np
import torch

# LayerNormalization (opset 17) stores epsilon as a float32 attribute: 1e-5 would differ from PyTorch's float64 1e-5
# by 3e-13 relative; 2^-17 is exact in both
EPS = 2.0 ** -17

try:
    from torch.func import functional_call, jacrev
except ImportError:  # torch 1.13 (Debian): functorch
    from functorch import jacrev
    from torch.nn.utils.stateless import functional_call


class Attention(torch.nn.Module):
    """nn.MultiheadAttention alone, self-attention on batch-first [N, L, E] input, the output only."""

    def __init__(self):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class CatSkip(torch.nn.Module):
    """A skip connection by concatenation: [x, relu(lin(x))] -> out."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 6)
        self.out = torch.nn.Linear(11, 3)

    def forward(self, x):
        return self.out(torch.cat([x, torch.relu(self.lin(x))], dim=1))


class Reshapes(torch.nn.Module):
    """Flatten, an unflatten and reshape with -1 (on the batch axis and on another). torch 1.13 cannot export
    nn.Unflatten (aten::unflatten), so the unflatten is a view."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 6)
        self.out = torch.nn.Linear(12, 2)

    def forward(self, x):  # x [N, 12]
        h = x.view(x.shape[0], 3, 4)            # [N, 3, 4]
        h = torch.tanh(self.lin(h))             # [N, 3, 6]
        h = h.reshape(-1, 2, 9)                 # [N, 2, 9]: -1 is the batch axis
        h = h.flatten(1)[:, :12]                # [N, 12]
        return self.out(h.reshape(h.shape[0], -1))


class Einsum(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(3, 5))

    def forward(self, x):
        return torch.einsum("ni,oi->no", x, self.w)


class Interpolate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="nearest").flatten(1)


class EinsumAttention(torch.nn.Module):
    """Self-attention written with torch.einsum on [N, L, E] = [N, 4, 8], 2 heads: scores 'bhqd,bhkd->bhqk', the
    weighted values 'bhqk,bhkd->bhqd'."""

    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x):
        n = x.shape[0]
        q, k, v = (t.reshape(n, 4, 2, 4).transpose(1, 2) for t in self.qkv(x).split(8, dim=2))
        att = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / 2.0, dim=-1)
        return torch.einsum("bhqk,bhkd->bhqd", att, v).flatten(1)


class EinsumProducts(torch.nn.Module):
    """torch.einsum with an ellipsis, an implicit output, a diagonal, a trace, a three-operand bilinear form and a
    transpose, on x [N, 3, 4]."""

    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(4, 5) / 2)
        self.w2 = torch.nn.Parameter(torch.randn(5, 3) / 2)
        self.b = torch.nn.Parameter(torch.randn(12, 6) / 3)
        self.lin = torch.nn.Linear(12, 6)
        self.w3 = torch.nn.Parameter(torch.randn(2, 3))

    def forward(self, x):
        h = torch.tanh(torch.einsum("...ij,jk->...ik", x, self.w1))   # [N, 3, 5]
        t = torch.einsum("bij,jk", h, self.w2)                         # implicit 'bik': [N, 3, 3]
        d = torch.einsum("bii->bi", t)                                  # diagonal [N, 3]
        tr = torch.einsum("bii", t)                                     # implicit 'b': the trace [N]
        z = x.flatten(1)
        bil = torch.einsum("bi,ij,bj->b", z, self.b, torch.tanh(self.lin(z)))
        out = d @ torch.einsum("ij->ji", self.w3)                       # [N, 2]
        return torch.cat([out, tr.unsqueeze(1), bil.unsqueeze(1)], dim=1)


class Bilinear(torch.nn.Module):
    """F.interpolate bilinear by 2 with align_corners=False (half_pixel), to a size with align_corners=True, and
    nearest to a size that is no multiple (5 x 7 from 3 x 3)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        h = torch.tanh(self.conv(x))
        f = torch.nn.functional.interpolate
        a = f(h, scale_factor=2, mode="bilinear", align_corners=False)
        b = f(h, size=(5, 4), mode="bilinear", align_corners=True)
        c = f(h, size=(5, 7), mode="nearest")
        return torch.cat([a.flatten(1), b.flatten(1), c.flatten(1)], dim=1)


class UNet(torch.nn.Module):
    """A U-Net-like up path: a stride-2 conv down, nn.Upsample(scale_factor=2) up, a skip concatenated, a conv."""

    def __init__(self):
        super().__init__()
        self.inc = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.down = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")
        self.out = torch.nn.Conv2d(7, 2, 3, padding=1)

    def forward(self, x):  # [N, 2, 4, 4]
        skip = torch.relu(self.inc(x))
        low = torch.relu(self.down(skip))          # [N, 4, 2, 2]
        return self.out(torch.cat([self.up(low), skip], dim=1)).flatten(1)


class Embedding(torch.nn.Module):
    """A tiny text model: token ids [N, L] (int64) -> nn.Embedding(50, 8) -> mean over the sequence -> Linear(8, 3)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, tokens):
        return self.out(self.emb(tokens).mean(1))


class TextEncoder(torch.nn.Module):
    """Token ids [N, L] -> nn.Embedding(50, 8) -> a batch-first TransformerEncoderLayer -> mean pooling ->
    Linear(8, 3)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.enc = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0,
                                                    batch_first=True, layer_norm_eps=EPS)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, tokens):
        return self.out(self.enc(self.emb(tokens)).mean(1))


def token_ids():
    """3 sequences of 5 ids in 0..49, the first and last row among them."""
    x = torch.randint(0, 50, (3, 5))
    x[0, 0] = 49
    x[1, 2] = 0
    x[2, 1] = x[2, 3]  # a repeated id
    return x


def build(name):
    """The module and 3 example inputs."""
    torch.manual_seed(0)
    if name.startswith("encoder"):
        # encoder_ACT_bf|sf_drop|nodrop: a TransformerEncoderLayer, d_model 8, 2 heads
        _, act, layout, drop = name.split("_")
        first = layout == "bf"
        net = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, activation=act,
                                               dropout=0.1 if drop == "drop" else 0.0, batch_first=first,
                                               layer_norm_eps=EPS)
        x = torch.randn(3, 4, 8) if first else torch.randn(4, 3, 8)
        return net, x
    if name == "mha":
        return Attention(), torch.randn(3, 4, 8)
    if name == "layernorm":
        net = torch.nn.LayerNorm(6, eps=EPS)
        with torch.no_grad():  # not the identity affine map of a fresh module
            net.weight.copy_(0.5 + torch.rand(6))
            net.bias.copy_(torch.randn(6))
        return net, torch.randn(3, 6)
    if name == "mlp":
        net = torch.nn.Sequential(
            torch.nn.Linear(5, 8), torch.nn.SiLU(), torch.nn.Linear(8, 8), torch.nn.Softplus(),
            torch.nn.Linear(8, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3), torch.nn.Sigmoid())
        return net, torch.randn(3, 5)
    if name == "catskip":
        return CatSkip(), torch.randn(3, 5)
    if name == "reshapes":
        return Reshapes(), torch.randn(3, 12)
    if name == "einsum":
        return Einsum(), torch.randn(3, 5)
    if name == "interpolate":
        return Interpolate(), torch.randn(3, 2, 3, 3)
    if name == "einsum_attention":
        return EinsumAttention(), torch.randn(3, 4, 8)
    if name == "einsum_products":
        return EinsumProducts(), torch.randn(3, 3, 4)
    if name == "bilinear":
        return Bilinear(), torch.randn(3, 2, 3, 3)
    if name == "unet":
        return UNet(), torch.randn(3, 2, 4, 4)
    if name == "embedding":
        return Embedding(), token_ids()
    if name == "text_encoder":
        return TextEncoder(), token_ids()
    raise SystemExit("unknown model " + name)


def reference(spec, out_root):
    parts = spec.split(":")
    name = parts[0]
    opset = int(parts[1]) if len(parts) > 1 and parts[1] else None
    fixed = len(parts) > 2 and parts[2] == "fixed"
    out_dir = os.path.join(out_root, "%s_%s_%s" % (name, opset or "default", "fixed" if fixed else "dyn"))
    os.makedirs(out_dir, exist_ok=True)
    net, x = build(name)
    net = net.double().eval()
    if x.is_floating_point():
        x = x.double()
    batch = 1 if "_sf_" in name else 0  # a sequence-first encoder's batch axis is axis 1
    dynamic = None if fixed else {"x": {batch: "batch"}, "y": {batch: "batch"}}
    kwargs = {} if opset is None else {"opset_version": opset}
    torch.onnx.export(net, (x,), os.path.join(out_dir, "model.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes=dynamic, do_constant_folding=False, **kwargs)
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.no_grad():
        y = net(x)
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "y.npy"), y.numpy())
    with open(os.path.join(out_dir, "params.txt"), "w") as fh:
        for p in params:
            fh.write("%s %d\n" % (p, params[p].numel()))
    jac = jacrev(lambda ps: functional_call(net, ps, (x,)))(params)
    n = x.shape[0]
    k = sum(torch.einsum("nap,mbp->nmab", j.reshape(n, -1, params[p].numel()), j.reshape(n, -1, params[p].numel()))
            for p, j in jac.items())
    out = list(y.shape[1:])
    r = len(out)
    k = k.reshape([n, n] + out + out).permute([0, 1] + [i for j in range(r) for i in (2 + j, 2 + r + j)])
    np.save(os.path.join(out_dir, "k.npy"), k.contiguous().numpy())


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
