"""Exports a small MLP (LayerNorm, GELU) to OUT/mlp.onnx for the CLI's ONNX tests, with inputs x.npy [6, 5],
labels y.npy and the pNTK of the module computed by PyTorch's autograd in float64 (pntk.npy): the gradient of
(1/sqrt(O)) * sum_k f_k(x_n) per example, then their Gram matrix."""
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
    params = list(ref.parameters())
    rows = []
    for n in range(x.shape[0]):
        f = ref(x[n:n + 1].double()).sum() / np.sqrt(3.0)
        g = torch.autograd.grad(f, params)
        rows.append(torch.cat([t.reshape(-1) for t in g]))
    j = torch.stack(rows)
    np.save(out + "/pntk.npy", (j @ j.T).numpy())
    print("names", " ".join(k for k, _ in ref.named_parameters()))


if __name__ == "__main__":
    main(sys.argv[1])
