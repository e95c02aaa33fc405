#!/usr/bin/env python3
"""PyTorch peer of `ntk4j bench resnet`: the full empirical NTK [N, N, O, O] of torchvision's ResNet (in eval
mode) by the two recipes of PyTorch's "Neural Tangent Kernels" tutorial, Jacobian contraction (`jc`) and
NTK-vector products (`vp`), as torch_ntk_peer.py computes them, on the weights and inputs ntk4j used.

The weights come as an .npz in torchvision's state_dict names and layouts (ntk4j's bench writes it with
ResNets.torchvisionKeys: OIHW convolution weights, fc.weight [out, in], batch-norm running statistics as
buffers); the inputs as an NHWC .npy, permuted to NCHW here. Batch norm in eval mode: the running statistics are
buffers, carried by make_functional_with_buffers (functorch) or functional_call (torch.func), not differentiated.

usage: torch_resnet_peer.py --params P.npz --x X.npy --arch resnet18|resnet34|resnet50|wide_resnet50_2 --out-dim O
                            --method jc|vp [--threads 2] [--warmup 1] [--reps 3] [--memory-gib 8] --out DIR
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

import torch_ntk_peer as peer  # noqa: E402


def build(arch, out_dim, npz):
    net = getattr(torchvision.models, arch)(num_classes=out_dim)
    state = {k: torch.from_numpy(np.ascontiguousarray(npz[k])) for k in npz.files}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError("state_dict mismatch: missing %s, unexpected %s" % (missing, unexpected))
    return net.eval()


def functionalise(net):
    """(fnet, params): fnet(params, x) -> net(x) with the buffers held fixed."""
    if peer.make_functional is not None:  # functorch (torch 1.13)
        from functorch import make_functional_with_buffers
        fnet, params, buffers = make_functional_with_buffers(net)
        params = tuple(p.detach() for p in params)
        buffers = tuple(b.detach() for b in buffers)
        return (lambda ps, x: fnet(ps, buffers, x)), params
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach() for _, p in net.named_parameters())
    buffers = {n: b.detach() for n, b in net.named_buffers()}

    def fnet(ps, x):
        return peer.functional_call(net, {**dict(zip(names, ps)), **buffers}, (x,))

    return fnet, params


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True)
    ap.add_argument("--x", required=True)
    ap.add_argument("--arch", required=True, choices=["resnet18", "resnet34", "resnet50", "wide_resnet50_2"])
    ap.add_argument("--out-dim", type=int, required=True)
    ap.add_argument("--method", required=True, choices=["jc", "vp"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memory-gib", type=float, default=8.0)
    ap.add_argument("--long-run-seconds", type=float, default=30.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    net = build(a.arch, a.out_dim, np.load(a.params))
    fnet, params = functionalise(net)
    x = torch.from_numpy(np.load(a.x).astype(np.float32)).permute(0, 3, 1, 2).contiguous()

    def fnet_single(ps, xi):
        return fnet(ps, xi.unsqueeze(0)).squeeze(0)

    n = x.shape[0]
    p_count = sum(p.numel() for p in params)
    out_size = a.out_dim
    budget = a.memory_gib * 2 ** 30
    variant = "tutorial"
    if a.method == "jc":
        # the Jacobians, and as much again for the contraction's operands and autograd's buffers
        need = 2 * n * out_size * p_count * 4
        need_one = 2 * n * out_size * max(p.numel() for p in params) * 4
        if need <= budget:
            def compute():
                return peer.ntk_jacobian_contraction(fnet_single, params, x)
        elif need_one <= budget:
            variant = "per parameter tensor (all Jacobians at once need %.1f GiB)" % (need / 2 ** 30)

            def compute():
                return peer.ntk_jacobian_contraction_per_parameter(fnet_single, params, x)
        else:
            print(json.dumps({"method": a.method, "status": "out of memory: the largest parameter's Jacobians "
                              "need %.1f GiB, over the %.1f GiB budget" % (need_one / 2 ** 30, a.memory_gib)}))
            return 0
    else:
        # per pair in a block: O parameter-sized cotangents, and as many tangents in the JVP
        per_pair = 2 * out_size * p_count * 4
        if per_pair > budget:
            print(json.dumps({"method": a.method, "status": "out of memory: one pair's %d cotangents need %.1f "
                              "GiB, over the %.1f GiB budget" % (out_size, per_pair / 2 ** 30, a.memory_gib)}))
            return 0
        block_pairs = max(1, int(budget // per_pair))
        variant = "tutorial, pairs in blocks of %d" % block_pairs

        def compute():
            return peer.ntk_vector_products(fnet_single, params, x, x, block_pairs)

    baseline = peer.rss_bytes()
    try:
        kernel, times = peer.timed_runs(compute, a.warmup, a.reps, a.long_run_seconds)
    except RuntimeError as e:  # an allocation the estimate did not foresee
        if "memory" not in str(e).lower():
            raise
        print(json.dumps({"method": a.method, "status": "out of memory: " + str(e).splitlines()[0]}))
        return 0
    peer.report(a, "torch_resnet_%s.npy" % a.method, kernel, times, p_count, baseline, variant)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
