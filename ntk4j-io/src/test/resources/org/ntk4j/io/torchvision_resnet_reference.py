"""Float64 oracle for TorchvisionResNetKernelTest: a torchvision 0.14 ResNet with every channel count scaled.

    torchvision_resnet_reference.py ARCH WIDTH OUT N SIZE ROWS DIR

ARCH: resnet18, resnet34, resnet50 or wide_resnet50_2; the network is torchvision's ResNet class with torchvision's
BasicBlock/Bottleneck and _make_layer, conv1 of WIDTH channels and layer1..4 of planes WIDTH*(1, 2, 4, 8) (64 is
torchvision's own network), seeded random weights and random batch-norm scales, shifts and running statistics,
in eval() mode and float64. Writes DIR/state_dict.pth (torch.save of the state_dict) and DIR/ref.npz: x (N inputs
NHWC of SIZE x SIZE x 3), y = net(x), rows (the output indices ROWS, comma-separated; empty: all), k_rows
[N, N, R, R] = J[a, rows[i]] . J[b, rows[j]] over every parameter (autograd, one backward pass per row),
k_pntk [N, N] = (1/OUT) J_sum(a) . J_sum(b), g [N, OUT] random and vjp/KEY = d(sum g*y)/d(param KEY) in
torchvision's names and layouts.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

torch.set_default_dtype(torch.float64)


class ScaledResNet(ResNet):
    """torchvision's ResNet.__init__ with 64 replaced by width (and default initialisation); groups > 1: ResNeXt."""

    def __init__(self, block, layers, width, num_classes, width_per_group, groups=1):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, groups, width_per_group
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)


ARCH = {"resnet18": (BasicBlock, [2, 2, 2, 2], 64), "resnet34": (BasicBlock, [3, 4, 6, 3], 64),
        "resnet50": (Bottleneck, [3, 4, 6, 3], 64), "wide_resnet50_2": (Bottleneck, [3, 4, 6, 3], 128)}


def main(arch, width, out, n, size, rows, directory):
    block, layers, wpg = ARCH[arch]
    torch.manual_seed(0)
    m = ScaledResNet(block, layers, width, out, wpg)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(1 + 0.2 * torch.randn(c))
                mod.bias.copy_(0.2 * torch.randn(c))
                mod.running_mean.copy_(0.2 * torch.randn(c))
                mod.running_var.copy_(0.5 + torch.rand(c))
    m.eval()
    x = torch.randn(n, 3, size, size)
    names = [k for k, _ in m.named_parameters()]
    params = [p for _, p in m.named_parameters()]
    y = m(x)

    def grad(scalar):
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(scalar, params, retain_graph=True)])

    sel = rows if rows else list(range(out))
    jac = torch.stack([torch.stack([grad(y[i, o]) for o in sel]) for i in range(n)])  # [n, R, P]
    js = torch.stack([grad(y[i].sum()) for i in range(n)])  # [n, P]
    g = torch.randn(n, out)
    vjp = torch.autograd.grad((y * g).sum(), params)
    arrays = {"x": x.permute(0, 2, 3, 1).contiguous().numpy(), "y": y.detach().numpy(),
              "rows": np.array(sel, dtype=np.int64), "k_rows": torch.einsum("aop,bqp->aboq", jac, jac).numpy(),
              "k_pntk": (js @ js.T / out).numpy(), "g": g.numpy(),
              "count": np.array(sum(p.numel() for p in params), dtype=np.int64)}
    for k, v in zip(names, vjp):
        arrays["vjp/" + k] = v.numpy()
    torch.save(m.state_dict(), os.path.join(directory, "state_dict.pth"))
    np.savez(os.path.join(directory, "ref.npz"), **arrays)


if __name__ == "__main__":
    a = sys.argv
    main(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), [int(r) for r in a[6].split(",") if r], a[7])
