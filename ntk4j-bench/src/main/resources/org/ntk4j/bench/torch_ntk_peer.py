#!/usr/bin/env python3
"""PyTorch peer of ntk4j's benchmark: the empirical NTK by the two recipes of PyTorch's "Neural Tangent Kernels"
tutorial (intermediate_source/neural_tangent_kernels.py), Jacobian contraction (`jc`) and NTK-vector products
(`vp`), on the network, parameters and inputs that ntk4j used.

The network is one of ntk4j's zoo networks, `fcn` or `cnn`, rebuilt from its `.npz` parameter file (names
documented in ntk4j's README: `<index>_dense/w` [fan_in, out], `<index>_dense/b`, `<index>_conv/w` [KH, KW, Cin,
Cout], `<index>_conv/b`) with the README's formulas: NTK parameterisation y = (w_std/sqrt(fan_in))·x·w + b_std·b,
the activation after every hidden layer, SAME convolutions (NHWC in ntk4j, NCHW here), a global average pool
before a cnn's readout. The kernel is the full one, [N1, N2, O, O], with x2 = x1 (each recipe computes what it
needs of x1 once, as ntk4j does with x2 = None).

Uses torch.func when the installed torch has it (2.0+), functorch otherwise (Debian's torch 1.13).
Writes the kernel of the last timed run as `<out>/torch_<method>.npy` (float32) and prints one JSON line with the
times of the timed runs, the peak resident memory above the baseline after setup, and the configuration.

usage: torch_ntk_peer.py --params P.npz --x X.npy --arch fcn|cnn --w-std S --b-std S --method jc|vp
                         [--act relu] [--threads 2] [--warmup 1] [--reps 3] [--memory-gib 8] --out DIR
"""
import argparse
import json
import os
import re
import resource
import sys
import time

import numpy as np
import torch

try:  # torch >= 2.0
    from torch.func import functional_call, jacrev, jvp, vjp, vmap
    API = "torch.func"
    make_functional = None
except ImportError:  # torch 1.13 with functorch
    from functorch import jacrev, jvp, make_functional, vjp, vmap
    functional_call = None
    API = "functorch"

ACTIVATIONS = {"relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh, "identity": lambda h: h}


class ZooNet(torch.nn.Module):
    """ntk4j's zoo fcn/cnn in NTK parameterisation; parameters copied from the .npz, in torch's layouts."""

    def __init__(self, npz, arch, w_std, b_std, act):
        super().__init__()
        self.arch, self.w_std, self.b_std, self.act = arch, w_std, b_std, ACTIVATIONS[act]
        layers = {}
        for name in npz.files:
            m = re.fullmatch(r"(\d+)_(dense|conv)/([wb])", name)
            if m is None:
                raise ValueError("unexpected parameter name %r for a zoo %s" % (name, arch))
            layers.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = npz[name]
        self.kinds, self.scales = [], []
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        self.has_bias = []
        for (_, kind), p in sorted(layers.items()):
            w = p["w"]
            if kind == "dense":
                fan_in = w.shape[0]
                tw = torch.from_numpy(np.ascontiguousarray(w.T))  # [out, fan_in], as torch.nn.functional.linear
            else:
                fan_in = w.shape[0] * w.shape[1] * w.shape[2]
                tw = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))  # [Cout, Cin, KH, KW]
            self.kinds.append(kind)
            self.scales.append(w_std / np.sqrt(fan_in))
            self.weights.append(torch.nn.Parameter(tw))
            self.has_bias.append("b" in p)
            self.biases.append(torch.nn.Parameter(torch.from_numpy(p["b"]) if "b" in p else torch.zeros(0)))
        self.biases = self.biases if any(self.has_bias) else None

    def forward(self, x):
        h = x
        if self.arch == "cnn":
            h = (h.unsqueeze(-1) if h.dim() == 3 else h).permute(0, 3, 1, 2)  # NHWC -> NCHW
        else:
            h = h.flatten(1)
        last = len(self.kinds) - 1
        for i, kind in enumerate(self.kinds):
            if kind == "dense":
                if h.dim() > 2:  # a cnn's readout: global average pool first
                    h = h.mean(dim=(2, 3))
                h = torch.nn.functional.linear(h, self.weights[i]) * self.scales[i]
                if self.has_bias[i]:
                    h = h + self.b_std * self.biases[i]
            else:
                k = self.weights[i].shape[-1]
                # SAME for odd filters and stride 1: k // 2 zeros on each side, as ntk4j's SAME
                h = torch.nn.functional.conv2d(h, self.weights[i], padding=k // 2) * self.scales[i]
                if self.has_bias[i]:
                    h = h + self.b_std * self.biases[i].view(1, -1, 1, 1)
            if i < last:
                h = self.act(h)
        return h


def functionalise(net):
    """(fnet, params): fnet(params, x) -> net(x), by make_functional (functorch) or functional_call."""
    if make_functional is not None:
        fnet, params = make_functional(net)
        params = tuple(p.detach() for p in params)
        return fnet, params
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach() for _, p in net.named_parameters())

    def fnet(ps, x):
        return functional_call(net, dict(zip(names, ps)), (x,))

    return fnet, params


def ntk_jacobian_contraction(fnet_single, params, x1):
    """The tutorial's empirical_ntk_jacobian_contraction, compute='full', with x2 = x1 (Jacobians once)."""
    jac1 = vmap(jacrev(fnet_single), (None, 0))(params, x1)
    jac1 = [j.flatten(2) for j in jac1]  # each [N, O, P_layer]
    result = torch.stack([torch.einsum('Naf,Mbf->NMab', j1, j1) for j1 in jac1])
    return result.sum(0)


def ntk_jacobian_contraction_per_parameter(fnet_single, params, x1):
    """The same recipe one parameter tensor at a time (jacrev with respect to that tensor alone, contracted and
    freed before the next): the memory of the largest parameter's Jacobians instead of all of them, for N·O
    backward passes per parameter tensor instead of N·O in all."""
    result = None
    for i in range(len(params)):
        def f_i(p_i, x, i=i):
            return fnet_single(params[:i] + (p_i,) + params[i + 1:], x)

        j = vmap(jacrev(f_i), (None, 0))(params[i], x1).flatten(2)  # [N, O, P_i]
        k = torch.einsum('Naf,Mbf->NMab', j, j)
        del j
        result = k if result is None else result + k
    return result


def ntk_vector_products(fnet_single, params, x1, x2, block_pairs):
    """The tutorial's empirical_ntk_ntk_vps, compute='full'. The tutorial vmaps get_ntk over all N1·N2 pairs at
    once, which holds N1·N2·O parameter-sized cotangents; here the pairs go through the same vmap in blocks of at
    most `block_pairs`, so that the memory stays within the budget."""

    def get_ntk(x1, x2):
        def func_x1(params):
            return fnet_single(params, x1)

        def func_x2(params):
            return fnet_single(params, x2)

        output, vjp_fn = vjp(func_x2, params)

        def get_ntk_slice(vec):
            # vec @ J(x2).T, then J(x1) @ that
            vjps = vjp_fn(vec)
            _, jvps = jvp(func_x1, (params,), vjps)
            return jvps

        basis = torch.eye(output.numel(), dtype=output.dtype, device=output.device).view(output.numel(), -1)
        return vmap(get_ntk_slice)(basis)

    n1, n2 = x1.shape[0], x2.shape[0]
    pairs = vmap(vmap(get_ntk, (None, 0)), (0, None))
    b1 = max(1, min(n1, block_pairs // n2))
    b2 = n2 if b1 > 1 or block_pairs >= n2 else max(1, block_pairs)
    rows = []
    for i in range(0, n1, b1):
        cols = [pairs(x1[i:i + b1], x2[j:j + b2]) for j in range(0, n2, b2)]
        rows.append(torch.cat(cols, dim=1))
    # get_ntk gives [O(x2 basis), O(x1)] per pair: the slice for basis vector b is J(x1) J(x2)[b]^T
    return torch.cat(rows, dim=0).transpose(2, 3)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_runs(compute, warmup, reps, long_run_seconds):
    """compute() warmup + reps times (a warm-up run longer than long_run_seconds ends the warm-up and is followed
    by one timed run: its spread is small next to its length); returns the last kernel and the timed seconds."""
    times = []
    kernel = None
    # no_grad: the parameters are plain tensors and the transforms differentiate on their own; the autograd
    # graph of ordinary tensors is not wanted (the tutorial's transforms ignore the outer no_grad)
    with torch.no_grad():
        runs = warmup + reps
        r = 0
        while r < runs:
            t0 = time.perf_counter()
            kernel = compute()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times.append(dt)
            elif dt > long_run_seconds:
                runs = warmup + 1
            r += 1
    return kernel, times


def report(a, name, kernel, times, p_count, baseline, variant, **extra):
    """Saves the kernel as a.out/name (float32) and prints the JSON line the benchmark reads."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, name)
    np.save(path, kernel.contiguous().numpy().astype(np.float32))
    line = {
        "method": a.method, "status": "ran", "seconds": times, "kernel": path,
        "kernel_shape": list(kernel.shape), "parameters": p_count,
        "peak_rss_above_baseline_bytes": max(0, peak - baseline), "peak_rss_bytes": peak,
        "variant": variant, "api": API, "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    line.update(extra)
    print(json.dumps(line))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True)
    ap.add_argument("--x", required=True)
    ap.add_argument("--arch", required=True, choices=["fcn", "cnn"])
    ap.add_argument("--w-std", type=float, required=True)
    ap.add_argument("--b-std", type=float, required=True)
    ap.add_argument("--act", default="relu", choices=sorted(ACTIVATIONS))
    ap.add_argument("--method", required=True, choices=["jc", "vp"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memory-gib", type=float, default=8.0)
    ap.add_argument("--long-run-seconds", type=float, default=30.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    npz = np.load(a.params)
    net = ZooNet(npz, a.arch, a.w_std, a.b_std, a.act)
    fnet, params = functionalise(net)
    x = torch.from_numpy(np.load(a.x).astype(np.float32))

    def fnet_single(ps, xi):
        return fnet(ps, xi.unsqueeze(0)).squeeze(0)

    n = x.shape[0]
    p_count = sum(p.numel() for p in params)
    with torch.no_grad():
        out_size = fnet(params, x[:1]).shape[-1]
    budget = a.memory_gib * 2 ** 30
    variant = "tutorial"
    if a.method == "jc":
        # the Jacobians, and as much again for the contraction's operands and autograd's buffers
        need = 2 * n * out_size * p_count * 4
        need_one = 2 * n * out_size * max(p.numel() for p in params) * 4
        if need <= budget:
            def compute():
                return ntk_jacobian_contraction(fnet_single, params, x)
        elif need_one <= budget:
            variant = "per parameter tensor (all Jacobians at once need %.1f GiB)" % (need / 2 ** 30)

            def compute():
                return ntk_jacobian_contraction_per_parameter(fnet_single, params, x)
        else:
            print(json.dumps({"method": a.method, "status": "not run: the largest parameter's Jacobians need "
                              "%.1f GiB, over the %.1f GiB budget" % (need_one / 2 ** 30, a.memory_gib)}))
            return 0
    else:
        # per pair in a block: O parameter-sized cotangents, and as many tangents in the JVP
        block_pairs = max(1, int(budget // (2 * out_size * p_count * 4)))
        variant = "tutorial, pairs in blocks of %d" % block_pairs

        def compute():
            return ntk_vector_products(fnet_single, params, x, x, block_pairs)

    baseline = rss_bytes()
    kernel, times = timed_runs(compute, a.warmup, a.reps, a.long_run_seconds)
    report(a, "torch_%s.npy" % a.method, kernel, times, p_count, baseline, variant,
           openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
