"""torch.einsum equations beyond torch_onnx_research.py's, exported by torch.onnx (opset 17, eval, float64, a dynamic
batch) for ntk4j-onnx's OnnxEinsumTorchTest:

    python3 torch_onnx_einsum.py --out DIR

Each case gets DIR/NAME/model.onnx, x.npy (3 examples), y.npy, params.txt and k.npy (the full eNTK from jacrev, in
ntk4j's layout [n1, n2, o1, o1', ...]). The cases: upper-case labels, spaces, a parameter's ellipsis in front of its
letters, an ellipsis in the middle of the output, a label three times in one operand, two repeated labels in one
operand, an implicit output with an ellipsis and upper- and lower-case letters (ASCII order: upper case first), a
diagonal of one operand against another.
"""
import argparse
import os

import torch

try:
    from torch.func import functional_call
except ImportError:  # torch 1.13 (Debian)
    from torch.nn.utils.stateless import functional_call

from torch_export_reference import jacrev_kernel, write_reference

N = 3
# name: (equation, shape of one example, shape of the parameter w)
CASES = {
    "upper": ("bIj, jK -> bKI", (3, 4), (4, 2)),
    "param_ellipsis": ("b...i,...ik->bk...", (2, 3, 4), (3, 4, 5)),
    "ellipsis_middle": ("b...i,ij->bj...", (2, 3, 4), (4, 2)),
    "triple": ("biii,i->bi", (3, 3, 3), (3,)),
    "two_diagonals": ("bijij,j->bi", (3, 2, 3, 2), (2,)),
    "implicit_mixed_case": ("...Ai,iB", (2, 3, 4), (4, 2)),
    "diag_against": ("bii,bi->b", (3, 3), None),
}


class Net(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        self.eq, _, w = CASES[name]
        self.w = torch.nn.Parameter(torch.randn(*w)) if w is not None else None
        self.lin = torch.nn.Linear(3, 3) if w is None else None

    def forward(self, x):
        x = torch.tanh(x)
        if self.w is None:
            # a parameter before the einsum, so the second operand has a Jacobian
            return torch.einsum(self.eq, x, self.lin(x[:, 0]))
        return torch.einsum(self.eq, x, self.w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name, (_, shape, _) in CASES.items():
        out_dir = os.path.join(a.out, name)
        os.makedirs(out_dir, exist_ok=True)
        torch.manual_seed(0)
        net = Net(name).double().eval()
        x = torch.randn(N, *shape, dtype=torch.float64)
        torch.onnx.export(net, (x,), os.path.join(out_dir, "model.onnx"), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                          do_constant_folding=False)
        params = {k: p.detach() for k, p in net.named_parameters()}
        with torch.no_grad():
            y = net(x)
        write_reference(out_dir, x, y, params,
                        jacrev_kernel(lambda ps: functional_call(net, ps, (x,)), params, N, list(y.shape[1:])))


if __name__ == "__main__":
    main()
