"""Trains a tiny CNN (Conv2d(1, 3, 3), ReLU, Flatten, Linear(48, 3)) by plain SGD on synthetic 6x6 images and writes
its checkpoints at epochs 0, 1 and 2 both ways a PyTorch user would, for StudyOnnxCommandTest:

  OUT/net.onnx                 the epoch-0 export (torch.onnx.export, do_constant_folding=False)
  OUT/npz/epoch-E.npz          the state_dict under its own names, np.savez(f, **{k: v.numpy()})
  OUT/onnx/epoch-E.onnx        one export per epoch
  OUT/sample.npz               x [12, 1, 6, 6] float32 and labels y [12]
  OUT/velocity.npy             the kernel velocity ||Theta_t - Theta_0||_F / ||Theta_0||_F at epochs 0, 1, 2 of the
                               full eNTK on the sample's first 8 inputs, by PyTorch's autograd in float64 (the
                               float32 weights and inputs widened); velocity_conv.npy: the same of the eNTK with
                               respect to conv.weight and conv.bias alone (what --freeze '^fc\.' measures)
  OUT/tanh.onnx, OUT/wide.onnx the same network with Tanh for ReLU, and with 4 channels: other networks
  OUT/bn/epoch-E.onnx          a CNN with a BatchNorm2d after the convolution, trained the same way (its running
                               statistics updated), exported in eval() with training=TrainingMode.PRESERVE, and
                               OUT/bn/epoch-E.npz its state_dict (running statistics included); OUT/bn_velocity.npy
                               its velocity in eval() (running statistics as constants)
"""
import os
import sys

import numpy as np
import torch


class Net(torch.nn.Module):
    def __init__(self, channels=3, act=torch.nn.ReLU, bn=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, channels, 3)
        self.bn = torch.nn.BatchNorm2d(channels) if bn else torch.nn.Identity()
        self.act = act()
        self.fc = torch.nn.Linear(channels * 16, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.act(self.bn(self.conv(x))), 1))


def export(net, path):
    torch.onnx.export(net.eval(), (torch.zeros(1, 1, 6, 6),), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def train(net, data, labels, sample, out, only=None):
    """Epochs 0 to 2 of plain SGD (lr 0.5, batches of 16), each written as OUT/npz/epoch-E.npz (the state_dict) and
    OUT/onnx/epoch-E.onnx; returns the kernel velocity at each epoch (by autograd in float64, in eval()) of the
    eNTK on the sample's first 8 inputs, with respect to every parameter and (only) those whose name starts with
    only."""
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    references = {}
    velocity = {"": []} if only is None else {"": [], only: []}
    for epoch in range(3):
        if epoch > 0:
            net.train()
            for b in range(0, 64, 16):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(data[b:b + 16]), labels[b:b + 16]).backward()
                opt.step()
        net.eval()
        np.savez(out + "/npz/epoch-%d.npz" % epoch, **{k: v.numpy() for k, v in net.state_dict().items()})
        export(net, out + "/onnx/epoch-%d.onnx" % epoch)
        ref = Net(bn=isinstance(net.bn, torch.nn.BatchNorm2d)).double().eval()
        ref.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in net.state_dict().items()})
        if isinstance(ref.bn, torch.nn.BatchNorm2d):
            ref.bn.eps = float(np.float32(ref.bn.eps))  # the file's epsilon is a float32 attribute
        for prefix in velocity:
            theta = entk(ref, sample[:8].double(), prefix)
            references.setdefault(prefix, theta)
            r = references[prefix]
            velocity[prefix].append(float(torch.linalg.norm(theta - r) / torch.linalg.norm(r)))
    return velocity


def entk(net, x, only=""):
    """The full eNTK [N*O, N*O] by autograd with respect to the parameters whose name starts with only: the
    Jacobian of every output, then its Gram matrix."""
    params = [p for k, p in net.named_parameters() if k.startswith(only)]
    rows = []
    for n in range(x.shape[0]):
        f = net(x[n:n + 1])[0]
        for o in range(f.shape[0]):
            g = torch.autograd.grad(f[o], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    j = torch.stack(rows)
    return j @ j.T


def main(out):
    torch.manual_seed(0)
    os.makedirs(out + "/npz", exist_ok=True)
    os.makedirs(out + "/onnx", exist_ok=True)
    net = Net()
    data = torch.randn(64, 1, 6, 6)
    labels = torch.randint(0, 3, (64,))
    sample = torch.randn(12, 1, 6, 6)
    np.savez(out + "/sample.npz", x=sample.numpy(), y=np.array([0, 1, 2] * 4, dtype=np.int64))
    export(net, out + "/net.onnx")
    velocity = train(net, data, labels, sample, out, "conv.")
    np.save(out + "/velocity.npy", np.array(velocity[""]))
    np.save(out + "/velocity_conv.npy", np.array(velocity["conv."]))
    os.makedirs(out + "/bn/npz", exist_ok=True)
    os.makedirs(out + "/bn/onnx", exist_ok=True)
    bn = Net(bn=True)
    with torch.no_grad():
        bn.bn.weight.uniform_(0.5, 1.5)
        bn.bn.bias.uniform_(-0.5, 0.5)
    np.save(out + "/bn_velocity.npy", np.array(train(bn, data, labels, sample, out + "/bn")[""]))
    export(Net(act=torch.nn.Tanh), out + "/tanh.onnx")
    export(Net(channels=4), out + "/wide.onnx")
    print("velocity", velocity)


if __name__ == "__main__":
    main(sys.argv[1])
