#!/usr/bin/env python3
"""Converts a torchvision ResNet's state_dict into the parameter file ntk4j's zoo ResNets read (--params-in).

torchvision's resnet18, resnet34, resnet50 and wide_resnet50_2 (and their channel-scaled variants) are the zoo's
`resnet18(out=O,width=W)`, ... (docs/models.md, "ImageNet ResNets"). This writes their weights under ntk4j's
parameter paths and layouts: convolution filters OIHW -> HWIO, fc.weight [out, in] -> [in, out], batch-norm
weight/bias as scale/shift, running statistics as buffers (`buffers/PATH`); num_batches_tracked is dropped.
float32 and float64 are kept (a float32 file computes in float64 under --dtype f64 exactly as its float32 values);
float16 and bfloat16, which ntk4j does not read, are widened to float32 (exactly). It prints the zoo spec the file
is for (`--model 'resnet18(out=10)'`: out= the fc's classes, width= when not 64, b_std=0 for an fc without bias).

    python3 - <<'EOF'                               # e.g. with torchvision's pretrained weights
    import torch, torchvision
    m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
    torch.save(m.state_dict(), "resnet18.pth")
    EOF
    python3 ntk4j-io/scripts/torchvision_resnet_params.py resnet18.pth resnet18.npz [--overwrite]
    ./ntk4j kernel --model 'resnet18' --params-in resnet18.npz --data x.npy --kind pntk

The input may be a state_dict, a whole model saved with torch.save(model), or a training checkpoint holding the
state_dict under 'state_dict', 'model_state_dict', 'model' or 'net'; keys prefixed by DataParallel's or
DistributedDataParallel's 'module.' (or torch.compile's '_orig_mod.') are read without it. Refused, one line on
stderr and exit code 2, nothing written: a network the zoo has no model for (resnet101, resnet152,
wide_resnet101_2, ResNeXt's grouped convolutions, other block counts), a missing or unexpected key (a convolution
with a bias, an fc that is not one Linear), a non-floating tensor; an OUT that exists (unless --overwrite), that
does not end in .npz, or that is the input. OUT (a symbolic link's target) is written to a hidden temporary file
beside it and renamed, so that a failed write leaves the previous file or none.

x.npy holds NHWC images ([N, 224, 224, 3]), normalised as torchvision's transforms normalise them: a PyTorch
batch x is x.permute(0, 2, 3, 1). Needs numpy and torch (to read the .pth); `convert` also takes a state_dict of
numpy arrays. TorchvisionResNetKernelTest runs this script and checks the network's outputs, eNTK and gradients
against PyTorch's in float64; TorchvisionResNetParamsScriptTest checks the variants and refusals above.
"""
import os
import sys
import tempfile

import numpy as np

PROG = "torchvision_resnet_params.py"
_BN = {"weight": "scale", "bias": "shift", "running_mean": "running_mean", "running_var": "running_var"}
# torchvision's blocks per layer -> depth, for basic blocks (False) and bottlenecks (True)
_DEPTHS = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34, (True, (3, 4, 6, 3)): 50,
           (True, (3, 4, 23, 3)): 101, (True, (3, 8, 36, 3)): 152}
_WRAPPERS = ("state_dict", "model_state_dict", "model", "net")
_PREFIXES = ("module.", "_orig_mod.")


def _bn(path, name):
    return ("buffers/" if name.startswith("running") else "") + path + "/" + name


def _layout(depth, fc_bias):
    """{torchvision key: ntk4j path} of the zoo's resnet{depth}: ResNets.torchvisionKeys, in Python."""
    blocks = next(bl for (_, bl), d in _DEPTHS.items() if d == depth)
    bottleneck = depth >= 50
    m = {"conv1.weight": "0_conv/w"}
    for f, n in _BN.items():
        m["bn1." + f] = _bn("1_batch_norm_eval", n)
    for li in range(4):
        for b in range(blocks[li]):
            base = "%d_serial/%d_serial/1_parallel/" % (4 + li, b)
            torch = "layer%d.%d." % (li + 1, b)
            for c in range(3 if bottleneck else 2):
                m[torch + "conv%d.weight" % (c + 1)] = base + "0_serial/%d_conv/w" % (3 * c)
                for f, n in _BN.items():
                    m[torch + "bn%d.%s" % (c + 1, f)] = _bn(base + "0_serial/%d_batch_norm_eval" % (3 * c + 1), n)
            if b == 0 and (bottleneck or li > 0):  # the first block projects (layer1 of basic blocks does not)
                m[torch + "downsample.0.weight"] = base + "1_serial/0_conv/w"
                for f, n in _BN.items():
                    m[torch + "downsample.1." + f] = _bn(base + "1_serial/1_batch_norm_eval", n)
    m["fc.weight"] = "9_dense/w"
    if fc_bias:
        m["fc.bias"] = "9_dense/b"
    return m


def _unwrap(obj):
    """The state_dict in a saved model or checkpoint, without DataParallel's 'module.' prefixes."""
    for _ in range(4):
        if not isinstance(obj, dict) and callable(getattr(obj, "state_dict", None)):
            obj = obj.state_dict()  # a whole module saved with torch.save(model)
        if not isinstance(obj, dict):
            raise ValueError("the file holds a %s, not a state_dict, a model or a checkpoint dict"
                             % type(obj).__name__)
        keys = [k for k in obj if isinstance(k, str)]
        if any(k.endswith("conv1.weight") for k in keys):
            break
        inner = [w for w in _WRAPPERS if w in obj]
        if not inner:
            raise ValueError("no ResNet weights found: no key ends in 'conv1.weight', and no %s holds them (keys: %s)"
                             % (" / ".join("'%s'" % w for w in _WRAPPERS), ", ".join(map(str, list(obj)[:8]))))
        obj = obj[inner[0]]
    changed = True
    while changed and obj:
        changed = False
        for p in _PREFIXES:
            if all(isinstance(k, str) and k.startswith(p) for k in obj):
                obj = {k[len(p):]: v for k, v in obj.items()}
                changed = True
    return obj


def _array(key, value):
    """The tensor or array as numpy, float32 or float64 (float16, bfloat16 widened exactly to float32)."""
    if hasattr(value, "detach"):
        t = value.detach().cpu()
        if str(t.dtype) in ("torch.float16", "torch.bfloat16"):
            t = t.float()
        a = t.numpy()
    else:
        a = np.asarray(value)
        if a.dtype == np.float16:
            a = a.astype(np.float32)
    if a.dtype not in (np.float32, np.float64):
        raise ValueError("'%s' holds %s values; float16, bfloat16, float32 or float64 expected" % (key, a.dtype))
    return a


def _architecture(sd):
    """(zoo spec, depth, fc bias) of the state_dict, refusing what the zoo has no model for."""
    for k in ("conv1.weight", "fc.weight", "layer1.0.conv1.weight"):
        if k not in sd:
            raise ValueError("not a torchvision ResNet state_dict: no '%s' (keys: %s)"
                             % (k, ", ".join(list(sd)[:8])))
    blocks = []
    for li in range(1, 5):
        b = 0
        while "layer%d.%d.conv1.weight" % (li, b) in sd:
            b += 1
        blocks.append(b)
    bottleneck = "layer1.0.conv3.weight" in sd
    depth = _DEPTHS.get((bottleneck, tuple(blocks)))
    kind = "bottleneck" if bottleneck else "basic"
    if depth is None:
        raise ValueError("%s blocks per layer %s are not a torchvision ResNet's (resnet18 2,2,2,2; resnet34 and "
                         "resnet50 3,4,6,3)" % (kind, ",".join(map(str, blocks))))
    width = int(np.shape(sd["conv1.weight"])[0])
    wpg = 64
    if bottleneck:
        conv2 = np.shape(sd["layer1.0.conv2.weight"])
        if conv2[0] != conv2[1]:
            raise ValueError("grouped convolutions (layer1.0.conv2.weight %s: groups=%d, ResNeXt): the zoo's ResNets "
                             "have none" % (list(conv2), conv2[0] // max(1, conv2[1])))
        inner = int(np.shape(sd["layer1.0.conv1.weight"])[0])
        wpg = inner * 64 // width
        if inner * 64 != wpg * width or wpg not in (64, 128):
            raise ValueError("bottleneck inner width %d for %d planes (width_per_group %s): the zoo has 64 "
                             "(resnet50) and 128 (wide_resnet50_2)" % (inner, width, inner * 64 / width))
    name = ("wide_resnet%d_2" if wpg == 128 else "resnet%d") % depth
    if depth not in (18, 34, 50):
        raise ValueError("%s (%s blocks per layer %s): ntk4j's zoo has resnet18, resnet34, resnet50 and "
                         "wide_resnet50_2 only" % (name, kind, ",".join(map(str, blocks))))
    out = int(np.shape(sd["fc.weight"])[0])
    fc_bias = "fc.bias" in sd
    options = (["width=%d" % width] if width != 64 else []) + ["out=%d" % out] + ([] if fc_bias else ["b_std=0"])
    return "%s(%s)" % (name, ",".join(options)), depth, fc_bias


def convert(state_dict):
    """Returns {ntk4j path: numpy array} for a torchvision ResNet state_dict ({key: tensor or array}), which may
    be wrapped as _unwrap reads it; raises ValueError naming what the zoo cannot take."""
    return convert_with_spec(state_dict)[0]


def convert_with_spec(state_dict):
    """(convert(state_dict), the zoo spec whose --params-in the arrays are)."""
    sd = {k: v for k, v in _unwrap(state_dict).items() if not k.endswith("num_batches_tracked")}
    spec, depth, fc_bias = _architecture(sd)
    layout = _layout(depth, fc_bias)
    extra = [k for k in sd if k not in layout]
    if extra:
        raise ValueError("%d key(s) that %s does not have: %s" % (len(extra), spec, ", ".join(extra[:5])))
    missing = [k for k in layout if k not in sd]
    if missing:
        raise ValueError("%d key(s) of %s missing: %s" % (len(missing), spec, ", ".join(missing[:5])))
    out = {}
    for key, path in layout.items():
        a = _array(key, sd[key])
        if a.ndim == 4:
            a = a.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif key == "fc.weight":
            a = a.T
        out[path] = np.ascontiguousarray(a)
    return out, spec


def _write(arrays, path, overwrite):
    """np.savez to a hidden temporary file beside path, renamed onto it: the previous file or none on a failure."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # a file object: savez appends no ".npz"
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if overwrite:
            os.replace(tmp, path)
        else:  # no replacing a file that appeared while converting: link fails where path exists
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ValueError("%s appeared while converting (another program wrote it) and was not replaced; "
                                 "pass --overwrite to replace it" % path)
            except OSError:  # a file system without hard links
                if os.path.lexists(path):
                    raise ValueError("%s exists; pass --overwrite to replace it" % path)
                os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def main(argv):
    args = [a for a in argv[1:] if a != "--overwrite"]
    overwrite = len(args) < len(argv) - 1
    if len(args) != 2 or any(a.startswith("-") and a != "-" for a in args):
        sys.stderr.write("usage: %s STATE_DICT.pth OUT.npz [--overwrite]\n" % PROG)
        return 2
    source, target = args
    try:
        if not target.endswith(".npz"):
            raise ValueError("OUT %s must end in .npz (the parameter file --params-in reads)" % target)
        if os.path.exists(target) and os.path.exists(source) and os.path.samefile(source, target):
            raise ValueError("OUT %s is the input STATE_DICT; choose another file" % target)
        if os.path.isdir(target):
            raise ValueError("OUT %s is a directory" % target)
        if os.path.exists(target) and not overwrite:
            raise ValueError("OUT %s exists; pass --overwrite to replace it" % target)
        import torch
        try:
            state = torch.load(source, map_location="cpu")
        except Exception as e:  # unreadable, not a torch file, a pickle of a class not importable here
            raise ValueError("cannot read %s: %s" % (source, str(e).splitlines()[0] if str(e) else type(e).__name__))
        arrays, spec = convert_with_spec(state)
        _write(arrays, os.path.realpath(target), overwrite)  # a link's target, as the shell's > writes it
    except (ValueError, OSError) as e:
        sys.stderr.write("%s: %s\n" % (PROG, " ".join(str(e).split())))
        return 2
    print("wrote %d arrays to %s for --model '%s'" % (len(arrays), target, spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
