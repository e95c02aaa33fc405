"""The ONNX setting of measure.py: a PyTorch network (conv, batch norm kept in eval mode, layer norm, softmax
attention, LogSoftmax of 100 outputs) exported as OUT_DIR/onnx/net.onnx with its inputs x.npy, and its exact
Jacobian in float64 rounded to float32 (J32.npy) for baseline.py.

usage: /usr/bin/python3 onnx_model.py OUT_DIR   (needs torch)
"""
import os
import sys

import numpy as np
import torch

from baseline import jacobian32


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(16)
        self.ln = torch.nn.LayerNorm(64)
        self.att = torch.nn.Linear(64, 64)
        self.fc = torch.nn.Linear(64, 100)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).flatten(2)  # [N, 16, 64]: the channels as tokens
        h = self.ln(h)
        a = torch.softmax(h @ self.att(h).transpose(1, 2) / 8.0, dim=-1)
        h = h + a @ h
        return torch.log_softmax(self.fc(torch.tanh(h).mean(1)), dim=-1)


if __name__ == "__main__":
    d = os.path.join(sys.argv[1], "onnx")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    m = Net()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2.0)
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-.2, .2)
    m.eval()
    x = torch.randn(32, 3, 8, 8)
    torch.onnx.export(m, x, os.path.join(d, "net.onnx"), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    np.save(os.path.join(d, "x.npy"), x.numpy())
    md = m.double().eval()
    ps = list(md.parameters())
    jac = jacobian32(md(x.double()), ps)
    np.save(os.path.join(d, "J32.npy"), jac)
