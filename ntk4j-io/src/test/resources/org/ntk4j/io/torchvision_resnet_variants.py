"""Saved state_dicts for TorchvisionResNetParamsScriptTest: how users save them, and what the zoo cannot take.

    torchvision_resnet_variants.py DIR

DIR holds reference.py (torchvision_resnet_reference.py, whose ScaledResNet is torchvision's ResNet class with
every channel count scaled to width 8). Writes DIR/NAME.pth for NAME in: plain (resnet18, out 10), dp (its keys
prefixed by DataParallel's 'module.'), ckpt (a training checkpoint {'epoch', 'state_dict', 'optimizer'}), half and
bf16 (float16 and bfloat16 weights) with half_f32 and bf16_f32 (the same values as float32), nobias (an fc without
bias), wide (wide_resnet50_2); refused: resnext (groups 4), r101 (resnet101's blocks), convbias (a convolution
with a bias), missing (a running_var dropped), ints (an integer conv1.weight), fc2 (an fc of two Linears).
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torchvision.models.resnet import BasicBlock, Bottleneck  # noqa: E402

from reference import ScaledResNet  # noqa: E402


def save(sd, name):
    torch.save(sd, os.path.join(sys.argv[1], name + ".pth"))


def floats(sd, dtype):
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}


torch.manual_seed(0)
r18 = ScaledResNet(BasicBlock, [2, 2, 2, 2], 8, 10, 64)
sd = r18.state_dict()
save(sd, "plain")
save({"module." + k: v for k, v in sd.items()}, "dp")
save({"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}, "ckpt")
for name, dtype in (("half", torch.float16), ("bf16", torch.bfloat16)):
    save(floats(sd, dtype), name)
    save(floats(floats(sd, dtype), torch.float32), name + "_f32")
nobias = ScaledResNet(BasicBlock, [2, 2, 2, 2], 8, 10, 64)
nobias.fc = nn.Linear(64, 10, bias=False)
save(nobias.state_dict(), "nobias")
save(ScaledResNet(Bottleneck, [3, 4, 6, 3], 8, 10, 128).state_dict(), "wide")
save(ScaledResNet(Bottleneck, [3, 4, 6, 3], 8, 10, 16, groups=4).state_dict(), "resnext")
save(ScaledResNet(Bottleneck, [3, 4, 23, 3], 8, 10, 64).state_dict(), "r101")
save(dict(sd, **{"layer1.0.conv1.bias": torch.zeros(8)}), "convbias")
save({k: v for k, v in sd.items() if k != "layer2.0.downsample.1.running_var"}, "missing")
save(dict(sd, **{"conv1.weight": sd["conv1.weight"].to(torch.int32)}), "ints")
fc2 = {k: v for k, v in sd.items() if not k.startswith("fc.")}
fc2.update({"fc.0.weight": torch.zeros(32, 64), "fc.0.bias": torch.zeros(32), "fc.weight": torch.zeros(10, 32)})
save(fc2, "fc2")
