"""Exports a small MLP (LayerNorm, GELU) to OUT/mlp.onnx for the CLI's ONNX tests, with inputs x.npy [6, 5],
labels y.npy and the pNTK of the module computed by PyTorch's autograd in float64 (pntk.npy): the gradient of
(1/sqrt(O)) * sum_k f_k(x_n) per example, then their Gram matrix. Also a tiny text model (nn.Embedding(50, 8), the
mean over the sequence, Linear(8, 3)) to OUT/text.onnx with int64 token ids ids.npy [6, 5] and its pNTK (embedding
table included) text_pntk.npy, the same way. And a model of learned scalars (CLIP's logit_scale through exp, a gain,
nn.Parameters of shape []; a scalar buffer temp; a literal 1/sqrt(4)) to OUT/scalars.onnx, on x.npy, with the pNTK of
its named_parameters() (temp is a buffer: not among them) in scalars_pntk.npy."""
import math
import sys

import numpy as np
import torch


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(5, 7)
        self.norm = torch.nn.LayerNorm(7)
        self.fc2 = torch.nn.Linear(7, 3)

    def forward(self, x):
        return self.fc2(torch.nn.functional.gelu(self.norm(self.fc1(x))))


def main(out):
    torch.manual_seed(0)
    net = Mlp().eval()
    with torch.no_grad():
        net.norm.weight.uniform_(0.5, 1.5)
        net.norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(6, 5)
    torch.onnx.export(net, (x[:1],), out + "/mlp.onnx", input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                      do_constant_folding=False)
    np.save(out + "/x.npy", x.numpy().astype(np.float32))
    np.save(out + "/y.npy", np.array([0, 1, 2, 0, 1, 2], dtype=np.int64))
    ref = Mlp().double()
    ref.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    np.save(out + "/pntk.npy", pntk(ref, x.double()))
    print("names", " ".join(k for k, _ in ref.named_parameters()))
    text = Text().eval()
    ids = torch.randint(0, 50, (6, 5))
    ids[0, 0] = 49
    ids[1, 1] = 0
    torch.onnx.export(text, (ids[:1],), out + "/text.onnx", input_names=["ids"], output_names=["y"],
                      dynamic_axes={"ids": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                      do_constant_folding=False)
    np.save(out + "/ids.npy", ids.numpy())
    np.save(out + "/text_pntk.npy", pntk(text.double(), ids))
    scalars = Scalars().eval()
    torch.onnx.export(scalars, (x[:1],), out + "/scalars.onnx", input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                      do_constant_folding=False)
    np.save(out + "/scalars_pntk.npy", pntk(scalars.double(), x.double()))


class Scalars(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(5, 3)
        self.logit_scale = torch.nn.Parameter(torch.tensor(0.8))
        self.gain = torch.nn.Parameter(torch.tensor(1.3))
        self.register_buffer("temp", torch.tensor(0.7))

    def forward(self, x):
        return torch.tanh(self.fc(x)) / math.sqrt(4.0) * self.logit_scale.exp() * self.gain * self.temp


class Text(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, ids):
        return self.out(self.emb(ids).mean(1))


def pntk(net, x):
    """The pNTK by autograd: per example the gradient of (1/sqrt(O)) * sum_k f_k(x_n), then their Gram matrix."""
    params = list(net.parameters())
    rows = []
    for n in range(x.shape[0]):
        f = net(x[n:n + 1]).sum() / np.sqrt(3.0)
        g = torch.autograd.grad(f, params)
        rows.append(torch.cat([t.reshape(-1) for t in g]))
    j = torch.stack(rows)
    return (j @ j.T).numpy()


if __name__ == "__main__":
    main(sys.argv[1])
