#!/usr/bin/env python3
"""Converts a torchvision ResNet's state_dict into the parameter file ntk4j's zoo ResNets read (--params-in).

torchvision's resnet18, resnet34, resnet50 and wide_resnet50_2 (and their channel-scaled variants) are the zoo's
`resnet18(out=O,width=W)`, ... (docs/models.md, "ImageNet ResNets"). This writes their weights under ntk4j's
parameter paths and layouts: convolution filters OIHW -> HWIO, fc.weight [out, in] -> [in, out], batch-norm
weight/bias as scale/shift, running statistics as buffers (`buffers/PATH`); num_batches_tracked is dropped.
The dtype is kept (a float32 file computes in float64 under --dtype f64 exactly as its float32 values).

    python3 - <<'EOF'                               # e.g. with torchvision's pretrained weights
    import torch, torchvision
    m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
    torch.save(m.state_dict(), "resnet18.pth")
    EOF
    python3 ntk4j-io/scripts/torchvision_resnet_params.py resnet18.pth resnet18.npz
    ./ntk4j kernel --model 'resnet18' --params-in resnet18.npz --data x.npy --kind pntk

x.npy holds NHWC images ([N, 224, 224, 3]), normalised as torchvision's transforms normalise them: a PyTorch
batch x is x.permute(0, 2, 3, 1). Needs numpy and torch (to read the .pth); `convert` also takes a state_dict of
numpy arrays. TorchvisionResNetKernelTest runs this script and checks the network's outputs, eNTK and gradients
against PyTorch's in float64.
"""
import re
import sys

import numpy as np

_BN = {"weight": "scale", "bias": "shift", "running_mean": "running_mean", "running_var": "running_var"}


def _bn(path, field):
    name = _BN[field]
    return ("buffers/" if name.startswith("running") else "") + path + "/" + name


def convert(state_dict):
    """Returns {ntk4j path: numpy array} for a torchvision ResNet state_dict ({key: tensor or array})."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        a = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if a.ndim == 4:
            a = a.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        if key == "conv1.weight":
            out["0_conv/w"] = a
            continue
        m = re.fullmatch(r"bn1\.(\w+)", key)
        if m:
            out[_bn("1_batch_norm_eval", m.group(1))] = a
            continue
        if key == "fc.weight":
            out["9_dense/w"] = a.T
            continue
        if key == "fc.bias":
            out["9_dense/b"] = a
            continue
        m = re.fullmatch(r"layer([1-4])\.(\d+)\.(?:(conv|bn)([1-3])|downsample\.([01]))\.(\w+)", key)
        if not m:
            raise ValueError("not a torchvision ResNet key: " + key)
        layer, block, kind, index, down, field = m.groups()
        base = "%d_serial/%s_serial/1_parallel/" % (3 + int(layer), block)
        if down is not None:  # the shortcut's conv1x1 (0) and batch norm (1)
            path = base + ("1_serial/0_conv" if down == "0" else "1_serial/1_batch_norm_eval")
        else:  # conv c and bn c of the residual branch at 3(c-1) and 3(c-1)+1 (a relu between)
            c = int(index) - 1
            path = base + "0_serial/" + ("%d_conv" % (3 * c) if kind == "conv" else "%d_batch_norm_eval" % (3 * c + 1))
        out[path + "/w" if path.endswith("_conv") else _bn(path, field)] = a
    return out


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: torchvision_resnet_params.py STATE_DICT.pth OUT.npz\n")
        return 2
    import torch
    state = torch.load(argv[1], map_location="cpu")
    if not isinstance(state, dict):
        state = state.state_dict()  # a whole module saved with torch.save(model)
    arrays = convert(state)
    np.savez(argv[2], **arrays)
    print("wrote %d arrays to %s" % (len(arrays), argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
