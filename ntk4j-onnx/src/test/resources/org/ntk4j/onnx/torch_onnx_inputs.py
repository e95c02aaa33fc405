"""Exports PyTorch networks with several inputs to ONNX, in float64, and writes PyTorch's forward pass and full
empirical NTK on the same inputs, for ntk4j-onnx's tests of models with several inputs.

    python3 torch_onnx_inputs.py --out DIR

writes, for each model M, DIR/M/model.onnx, DIR/M/x.npz (one array per graph input, by name, as np.savez writes
them), DIR/M/y.npy (the forward pass) and DIR/M/k.npy: the full eNTK K[n1, n2, a, b] = sum_p dF(x_n1)_a/dθ_p
dF(x_n2)_b/dθ_p, from functorch's Jacobian (jacrev) in float64 contracted over every parameter, in ntk4j's layout
[n1, n2, a1, a2]. The models:

  two      f(a, b) = W tanh(A a + B flatten(b)) + c: a [3], b [2, 2] (a two-input MLP).
  encoder  an nn.Embedding of input_ids [5], one nn.TransformerEncoderLayer (batch_first) with
           src_key_padding_mask = (attention_mask == 0), as a Hugging Face encoder masks its padding, then the mean
           over the unmasked positions and a Linear head; some examples padded. opset 14.
  bert     a Hugging Face BERT's pattern, written out: input_ids, token_type_ids and attention_mask [6] (the
           sequence axis exported dynamic), word + token-type + position embeddings (a position_ids buffer sliced to
           the length), LayerNorm, the extended mask (1 - mask[:, None, None, :]) * finfo.min added to the scores of
           a two-head self-attention, a tanh pooler on the first token and a classifier of 3 logits. opset 14.
  boolmask the encoder above with a bool padding_mask input [5] (True at padding) given to src_key_padding_mask
           as it is, and the mean over the positions where ~padding_mask (Not, Cast to double). x.npz holds the
           mask as NumPy bools ('|b1'). opset 14.
  longmask integer casts of masks: pad = (attention_mask == 0).long() (Equal, Cast to int64), keep = an arithmetic
           of the mask cast back to int64 ((3 mask - 1).clamp(min=0).to(torch.int64): Cast, Mul, Sub, Clip, Cast),
           and integer arithmetic with constants (keep - 2 pad + 1) cast to double as the weights of a pooling of
           tanh(Linear(Embedding(input_ids))). opset 14.
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


class Two(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 5)
        self.b = torch.nn.Linear(4, 5, bias=False)
        self.out = torch.nn.Linear(5, 2)

    def forward(self, a, b):
        return self.out(torch.tanh(self.a(a) + self.b(b.flatten(1))))


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 8)
        self.layer = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0,
                                                      batch_first=True)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, input_ids, attention_mask):
        h = self.layer(self.emb(input_ids), src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1))


class MiniBert(torch.nn.Module):
    def __init__(self, vocab=13, length=6, width=8, heads=2):
        super().__init__()
        self.word = torch.nn.Embedding(vocab, width)
        self.token_type = torch.nn.Embedding(2, width)
        self.position = torch.nn.Embedding(length, width)
        self.register_buffer("position_ids", torch.arange(length).expand((1, -1)))
        self.norm = torch.nn.LayerNorm(width)
        self.q = torch.nn.Linear(width, width)
        self.k = torch.nn.Linear(width, width)
        self.v = torch.nn.Linear(width, width)
        self.o = torch.nn.Linear(width, width)
        self.pooler = torch.nn.Linear(width, width)
        self.classifier = torch.nn.Linear(width, 3)
        self.heads = heads

    def split(self, x):
        b, l, e = x.size()
        return x.view(b, l, self.heads, e // self.heads).permute(0, 2, 1, 3)

    def forward(self, input_ids, token_type_ids, attention_mask):
        length = input_ids.size(1)
        h = self.norm(self.word(input_ids) + self.token_type(token_type_ids)
                      + self.position(self.position_ids[:, :length]))
        extended = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        q, k, v = self.split(self.q(h)), self.split(self.k(h)), self.split(self.v(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.size(-1)) + extended
        c = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        h = h + self.o(c.view(c.size(0), c.size(1), -1))
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))


class BoolMaskEncoder(Encoder):
    def forward(self, input_ids, padding_mask):
        h = self.layer(self.emb(input_ids), src_key_padding_mask=padding_mask)
        keep = (~padding_mask).unsqueeze(-1).to(h.dtype)
        return self.head((h * keep).sum(1) / keep.sum(1))


class LongMaskPool(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 6)
        self.lin = torch.nn.Linear(6, 6)
        self.head = torch.nn.Linear(6, 2)

    def forward(self, input_ids, attention_mask):
        h = torch.tanh(self.lin(self.emb(input_ids)))
        pad = (attention_mask == 0).long()
        keep = (attention_mask.to(h.dtype) * 3.0 - 1.0).clamp(min=0.0).to(torch.int64)  # 2 kept, 0 padded
        w = (keep - 2 * pad + 1).unsqueeze(-1).to(h.dtype)  # 3 kept, -1 padded
        return self.head((h * w).sum(1) / keep.sum(1, keepdim=True).to(h.dtype))


def build(name):
    torch.manual_seed(0)
    if name == "two":
        inputs = {"a": torch.randn(3, 3, dtype=torch.float64), "b": torch.randn(3, 2, 2, dtype=torch.float64)}
        return Two(), inputs, 17
    if name == "encoder":
        ids = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0], [9, 10, 1, 2, 0], [1, 2, 3, 4, 5]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
        return Encoder(), {"input_ids": ids, "attention_mask": mask}, 14
    if name == "bert":
        ids = torch.tensor([[1, 5, 7, 2, 0, 0], [1, 3, 3, 9, 12, 2], [1, 4, 2, 0, 0, 0]])
        types = torch.tensor([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1], [0, 1, 1, 0, 0, 0]])
        inputs = {"input_ids": ids, "token_type_ids": types, "attention_mask": (ids != 0).long()}
        return MiniBert(), inputs, 14
    if name in ("boolmask", "longmask"):
        ids = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0], [9, 10, 1, 2, 0], [1, 2, 3, 4, 5]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
        if name == "boolmask":
            return BoolMaskEncoder(), {"input_ids": ids, "padding_mask": mask == 0}, 14
        return LongMaskPool(), {"input_ids": ids, "attention_mask": mask}, 14
    raise SystemExit("unknown model " + name)


def reference(name, out_dir):
    net, inputs, opset = build(name)
    net = net.double().eval()
    names = list(inputs)
    args = tuple(inputs[n] for n in names)
    torch.onnx.export(net, args, os.path.join(out_dir, "model.onnx"), input_names=names, output_names=["y"],
                      dynamic_axes={**{n: {0: "batch", 1: "seq"} if name == "bert" else {0: "batch"} for n in names},
                                    "y": {0: "batch"}}, opset_version=opset,
                      do_constant_folding=False)
    np.savez(os.path.join(out_dir, "x.npz"), **{n: t.numpy() for n, t in inputs.items()})
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.no_grad():
        y = functional_call(net, params, args)
    np.save(os.path.join(out_dir, "y.npy"), y.numpy())
    jac = jacrev(lambda ps: functional_call(net, ps, args))(params)
    n = y.shape[0]
    k = sum(torch.einsum("nap,mbp->nmab", j.reshape(n, y.shape[1], -1), j.reshape(n, y.shape[1], -1))
            for j in jac.values())
    np.save(os.path.join(out_dir, "k.npy"), k.numpy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name in ("two", "encoder", "bert", "boolmask", "longmask"):
        out = os.path.join(a.out, name)
        os.makedirs(out, exist_ok=True)
        reference(name, out)


if __name__ == "__main__":
    main()
