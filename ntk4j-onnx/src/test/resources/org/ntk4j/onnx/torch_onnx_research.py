"""Exports small non-CNN PyTorch networks (what researchers export: transformer encoders, attention, layer norm,
MLPs, embeddings, skips by concatenation, reshapes, torch.einsum, F.interpolate and a U-Net-like up path) to ONNX in float64, for ntk4j-onnx's
OnnxResearchModelsTest and OnnxCoincidentSizesAndInfinitiesTest.

    python3 torch_onnx_research.py --model NAME[:OPSET[:fixed]],... --out DIR

For each spec, DIR/NAME_OPSET_dyn (or _fixed) gets model.onnx (exported in eval mode, float64 module and input, with
a dynamic batch axis, or with the batch fixed at 3 for `fixed`), x.npy (3 inputs), y.npy (PyTorch's forward pass,
float64), params.txt (the parameter names and sizes, one a line) and k.npy: the full eNTK
K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p dF(x_n2)_b/dθ_p from functorch's Jacobian (jacrev) in float64, in ntk4j's
layout [n1, n2, o1, o1', ...]. OPSET defaults to torch's default (14 in torch 1.13). The text models
(embedding, text_encoder, causal_inf, causal_bool, nanogpt, triu_forward, gpt2, where_int) take int64 token ids,
saved as an int64 x.npy; their eNTK includes the embedding table.
"""
import argparse
import math
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


class Bicubic(torch.nn.Module):
    """F.interpolate bicubic (ONNX Resize mode cubic, cubic_coeff_a -0.75) by 2 with align_corners=False (half_pixel,
    coordinates beyond the edges reading the edge) and to a size that is no multiple with align_corners=True."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        h = torch.tanh(self.conv(x))
        f = torch.nn.functional.interpolate
        a = f(h, scale_factor=2, mode="bicubic", align_corners=False)
        b = f(h, size=(5, 4), mode="bicubic", align_corners=True)
        return torch.cat([a.flatten(1), b.flatten(1)], dim=1)


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


class CausalLM(torch.nn.Module):
    """A GPT-style decoder on token ids [N, 5]: nn.Embedding(11, 8) plus learned positions, one causally masked
    two-head self-attention with a residual, a linear head on the last position. The causal mask is a buffer (an
    initializer of the file): `inf`, triu(full(-inf), 1) added to the scores; `bool`, triu(ones, 1).bool() given to
    masked_fill(mask, -inf)."""

    def __init__(self, mask):
        super().__init__()
        self.kind = mask
        self.emb = torch.nn.Embedding(11, 8)
        self.pos = torch.nn.Parameter(torch.randn(5, 8) / 2)
        self.qkv = torch.nn.Linear(8, 24)
        self.proj = torch.nn.Linear(8, 8)
        self.head = torch.nn.Linear(8, 11)
        if mask == "inf":
            self.register_buffer("mask", torch.triu(torch.full((5, 5), float("-inf")), 1))
        else:
            self.register_buffer("mask", torch.ones(5, 5).triu(1).bool())

    def forward(self, tokens):
        n = tokens.shape[0]
        h = self.emb(tokens) + self.pos
        q, k, v = (t.reshape(n, 5, 2, 4).transpose(1, 2) for t in self.qkv(h).split(8, dim=2))
        s = q @ k.transpose(-2, -1) / 2.0
        s = s + self.mask if self.kind == "inf" else s.masked_fill(self.mask, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(n, 5, 8)
        return self.head(h + self.proj(o))[:, -1]


class NanoGpt(torch.nn.Module):
    """nanoGPT's causal self-attention on token ids [N, 5]: a float buffer tril(ones) (an initializer of 0s and 1s)
    read only through masked_fill(bias[:, :, :T, :T] == 0, -inf), so with no derivative: a constant, not a parameter."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 8)
        self.c_attn = torch.nn.Linear(8, 24)
        self.head = torch.nn.Linear(8, 11)
        self.register_buffer("bias", torch.tril(torch.ones(5, 5)).view(1, 1, 5, 5))

    def forward(self, tokens):
        n, length = tokens.shape
        q, k, v = (t.view(n, length, 2, 4).transpose(1, 2) for t in self.c_attn(self.emb(tokens)).split(8, dim=2))
        att = (q @ k.transpose(-2, -1)) * 0.5
        att = att.masked_fill(self.bias[:, :, :length, :length] == 0, float("-inf"))
        y = (torch.softmax(att, dim=-1) @ v).transpose(1, 2).contiguous().view(n, length, 8)
        return self.head(y)[:, -1, :]


class TriuForward(torch.nn.Module):
    """Triangles computed in forward (ONNX Trilu): the causal mask torch.triu(torch.full((L, L), -inf), 1) given to
    nn.MultiheadAttention's attn_mask, and a lower-triangular weight torch.tril(w) (Trilu of a parameter)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 8)
        self.mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.w = torch.nn.Parameter(torch.randn(8, 8) / 3)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, tokens):
        length = tokens.shape[1]
        mask = torch.triu(torch.full((length, length), float("-inf"), dtype=torch.float64), 1)
        h = self.emb(tokens)
        h = self.mha(h, h, h, attn_mask=mask, need_weights=False)[0]
        return self.head(torch.tanh(h @ torch.tril(self.w)))[:, -1]


class Gpt2Block(torch.nn.Module):
    """A GPT-2 block as Hugging Face writes it, on token ids [N, 6]: word and position embeddings (positions by
    arange), ln_1, a two-head causal attention (a bool tril buffer sliced to the length, torch.where(causal, scores,
    finfo.min)), ln_2, an MLP with GELU(tanh), ln_f and a language-model head tied to the word embeddings (one
    parameter, wte.weight, read by the Gather and by the head's MatMul)."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(13, 8)
        self.wpe = torch.nn.Embedding(6, 8)
        self.ln_1 = torch.nn.LayerNorm(8, eps=EPS)
        self.c_attn = torch.nn.Linear(8, 24)
        self.c_proj = torch.nn.Linear(8, 8)
        self.ln_2 = torch.nn.LayerNorm(8, eps=EPS)
        self.fc = torch.nn.Linear(8, 16)
        self.fc_proj = torch.nn.Linear(16, 8)
        self.ln_f = torch.nn.LayerNorm(8, eps=EPS)
        self.lm_head = torch.nn.Linear(8, 13, bias=False)
        self.lm_head.weight = self.wte.weight
        self.register_buffer("bias", torch.tril(torch.ones((6, 6), dtype=torch.bool)).view(1, 1, 6, 6))

    def forward(self, tokens):
        n, length = tokens.shape
        h = self.wte(tokens) + self.wpe(torch.arange(0, length, dtype=torch.long).unsqueeze(0))
        q, k, v = (t.view(n, length, 2, 4).permute(0, 2, 1, 3) for t in self.c_attn(self.ln_1(h)).split(8, dim=2))
        w = torch.matmul(q, k.transpose(-1, -2)) / 2.0
        w = torch.where(self.bias[:, :, :length, :length], w, torch.full([], torch.finfo(w.dtype).min,
                                                                          dtype=w.dtype))
        o = torch.matmul(torch.softmax(w, dim=-1), v).permute(0, 2, 1, 3).contiguous().view(n, length, 8)
        h = h + self.c_proj(o)
        h = h + self.fc_proj(torch.nn.functional.gelu(self.fc(self.ln_2(h)), approximate="tanh"))
        return self.lm_head(self.ln_f(h))[:, -1, :]


class MhaCausal(torch.nn.Module):
    """nn.MultiheadAttention (batch first) with the float causal mask of generate_square_subsequent_mask (-inf above
    the diagonal) as a buffer given to attn_mask, then the mean over positions and a Linear head."""

    def __init__(self):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(4))
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.mha(x, x, x, attn_mask=self.mask, need_weights=False)[0].mean(1))


class Vit(torch.nn.Module):
    """A ViT-style network on [N, 3, 8, 8] images: a 4x4 patch embedding by a stride-4 convolution, a class token
    expanded to the batch (cls.expand(N, -1, -1)) and concatenated, learned position embeddings, a pre-norm
    TransformerEncoderLayer (batch first, GELU), LayerNorm and a head on the class token."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Conv2d(3, 8, 4, stride=4)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, 8) / 2)
        self.pos = torch.nn.Parameter(torch.randn(1, 5, 8) / 2)
        self.enc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", batch_first=True,
                                                    norm_first=True, layer_norm_eps=EPS)
        self.norm = torch.nn.LayerNorm(8, eps=EPS)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        p = self.patch(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), p], dim=1) + self.pos
        return self.head(self.norm(self.enc(h))[:, 0])


class Repeats(torch.nn.Module):
    """x.repeat (ONNX Tile) on x [N, 3, 4]: a class token cls.repeat(N, 1, 1) concatenated with the tokens, the
    tokens repeated along their own axes (h.repeat(1, 2, 3)), and an index list torch.arange(3).repeat(2) (a Tile
    evaluated at import) selecting positions."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 8)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, 8) / 2)
        self.out = torch.nn.Linear(24, 3)

    def forward(self, x):
        h = torch.cat([self.cls.repeat(x.shape[0], 1, 1), torch.tanh(self.lin(x))], dim=1)   # [N, 4, 8]
        # arange of a size read from h's shape: Shape, Range and Tile left in the file, evaluated at import
        h = h.repeat(1, 2, 3)[:, torch.arange(h.shape[1] - 1).repeat(2)]                     # [N, 6, 24]
        return self.out(h).mean(1)


class SequenceExpand(torch.nn.Module):
    """Position rows broadcast to the sequence length x.shape[1] of x [N, 3, 4], by expand and by repeat (Expand and
    Tile to a shape read from x's): run on 3 examples, the sequence is as long as the batch, and it is no batch axis."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 8)
        self.pos = torch.nn.Parameter(torch.randn(1, 8) / 2)
        self.tiled = torch.nn.Parameter(torch.randn(1, 8) / 2)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        length = x.shape[1]
        h = torch.tanh(self.lin(x) + self.pos.expand(length, -1) + self.tiled.repeat(length, 1))
        return self.out(h).mean(1)


class SinCos(torch.nn.Module):
    """Sin and Cos (which were refused): sinusoidal position encodings computed in forward from constants (arange,
    exp, sin, cos) added to x [N, 5, 8], a rotary-style rotation of the features by cos/sin of the positions, and sin
    of a computed value."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        length = x.shape[1]
        pos = torch.arange(length, dtype=torch.float64).unsqueeze(1)                        # [L, 1]
        angle = pos * torch.exp(torch.arange(0, 8, 2, dtype=torch.float64) * (-math.log(100.0) / 8))
        h = self.lin(x + torch.cat([torch.sin(angle), torch.cos(angle)], dim=1))           # [N, L, 8]
        a, b = h[..., :4], h[..., 4:]
        h = torch.cat([a * torch.cos(angle) - b * torch.sin(angle), a * torch.sin(angle) + b * torch.cos(angle)], -1)
        return self.out(torch.sin(h)).mean(1)


class WhereInt(torch.nn.Module):
    """torch.where with an integer constant branch on int64 values computed from token ids [N, 5]: a mean over the
    non-zero ids whose count is guarded by torch.where(count > 0, count, 1) (example 1 holds only zeros), plus
    per-token weights torch.where(ids > 4, 2, 1)."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, tokens):
        e = self.emb(tokens)
        keep = tokens != 0
        count = torch.where(keep.sum(1, keepdim=True) > 0, keep.sum(1, keepdim=True), 1)
        mean = (e * keep.unsqueeze(-1).to(e.dtype)).sum(1) / count.to(e.dtype)
        weighted = (e * torch.where(tokens > 4, 2, 1).unsqueeze(-1).to(e.dtype)).sum(1)
        return self.out(torch.cat([mean, weighted], dim=1))


class Vit13(torch.nn.Module):
    """A ViT-style network of 13 tokens on x [N, 12, 6] (12 patches of 6 values): a linear patch embedding, a class
    token and the position embeddings both expanded to the batch (cls.expand(N, -1, -1), pos.expand(N, -1, -1)), a
    TransformerEncoderLayer (batch first) and a head on the class token. Run on 13 examples, every value has two
    axes of 13, the examples' and the tokens'."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Linear(6, 8)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, 8) / 2)
        self.pos = torch.nn.Parameter(torch.randn(1, 13, 8) / 2)
        self.enc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, layer_norm_eps=EPS)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        n = x.shape[0]
        h = torch.cat([self.cls.expand(n, -1, -1), self.patch(x)], dim=1) + self.pos.expand(n, -1, -1)
        return self.head(self.enc(h)[:, 0])


class Fold13(torch.nn.Module):
    """x [N, 13, 4] -> tanh(Linear) [N, 13, 8], reshaped to [13, 8 N] by the sizes read from x (h.reshape(L, -1)), a
    softmax over each row of 8 N values, and back to [N, 13, 8]: each row of 8 N values holds parts of several
    examples unless N = 13, so the examples are not independent (though at 13 examples each row is one example)."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.lin(x))
        g = torch.softmax(h.reshape(x.shape[1], -1), dim=1).reshape(x.shape[0], x.shape[1], 8)
        return self.out(g).mean(1)


class TrilOfInfinities(torch.nn.Module):
    """torch.tril of a computed value holding -inf (ONNX Trilu): attention scores on x [N, 5, 8] with the keys whose
    first feature exceeds 0.8 masked by masked_fill(-inf), then tril (0 above the diagonal, -inf there included) before
    the softmax."""

    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(8, 8)
        self.k = torch.nn.Linear(8, 8)
        self.v = torch.nn.Linear(8, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        s = self.q(x) @ self.k(x).transpose(1, 2) / 2.0
        s = s.masked_fill((x[:, :, 0] > 0.8).unsqueeze(1), float("-inf"))
        return self.out(torch.softmax(torch.tril(s), dim=-1) @ self.v(x)).mean(1)


# tied parameters: functional_call in torch 1.13 replaces a tensor under the names given only, so the jacrev of a
# module whose head shares the embedding's weight needs the head's name mapped to the same tensor
TIED = {"gpt2": {"lm_head.weight": "wte.weight"}}


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
    if name == "bicubic":
        return Bicubic(), torch.randn(3, 2, 3, 3)
    if name == "unet":
        return UNet(), torch.randn(3, 2, 4, 4)
    if name == "embedding":
        return Embedding(), token_ids()
    if name == "text_encoder":
        return TextEncoder(), token_ids()
    if name in ("causal_inf", "causal_bool"):
        return CausalLM(name.split("_")[1]), torch.randint(0, 11, (3, 5))
    if name == "gpt2":
        return Gpt2Block(), torch.randint(0, 13, (3, 6))
    if name == "nanogpt":
        return NanoGpt(), torch.randint(0, 11, (3, 5))
    if name == "triu_forward":
        return TriuForward(), torch.randint(0, 11, (3, 5))
    if name == "mha_causal":
        return MhaCausal(), torch.randn(3, 4, 8)
    if name == "vit":
        return Vit(), torch.randn(3, 3, 8, 8)
    if name == "repeats":
        return Repeats(), torch.randn(3, 3, 4)
    if name == "sincos":
        return SinCos(), torch.randn(3, 5, 8)
    if name == "sequence_expand":
        return SequenceExpand(), torch.randn(3, 3, 4)
    if name == "where_int":
        x = torch.randint(0, 10, (3, 5))
        x[1] = 0
        return WhereInt(), x
    if name == "sequence_expand13":
        # 13 examples of sequences of 13: the import's dry run's own batch size
        return SequenceExpand(), torch.randn(13, 13, 4)
    if name == "vit13":
        return Vit13(), torch.randn(13, 12, 6)
    if name == "fold13":
        return Fold13(), torch.randn(3, 13, 4)
    if name == "tril_inf":
        x = torch.randn(3, 5, 8)
        x[0, 3, 0] = 1.5  # a key above the diagonal of rows 0 to 2 masked to -inf
        x[0, 0, 0] = x[1, :, 0] = x[2, :, 0] = 0.0
        return TrilOfInfinities(), x
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
    tied = TIED.get(name, {})
    jac = jacrev(lambda ps: functional_call(net, {**ps, **{a: ps[b] for a, b in tied.items()}}, (x,)))(params)
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
