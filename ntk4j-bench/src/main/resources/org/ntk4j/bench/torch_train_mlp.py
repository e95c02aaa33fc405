"""PyTorch's side of `./ntk4j bench train-mlp` (TrainMlpBench): trains the MLP that ntk4j's
fcn(depth=D,width=W,out=C) is (flatten, D x (Linear(W), ReLU), Linear(C), biases everywhere) with Adam and
cross-entropy, float32, on the inputs and labels the bench wrote (.npy), and prints one JSON line per epoch:

  {"epoch": 1, "examples_per_second": 1234.5, "seconds": 8.1, "loss": 0.52}

The first line describes the setting, with the BLAS torch was built for (torch.__config__) and the BLAS libraries
the process actually mapped after a matmul (/proc/self/maps), so an LD_PRELOAD shows:

  {"status": "ready", "torch": "1.13.1", "blas_info": "generic", "blas_libs": "/usr/lib/.../libblas.so.3", ...}

With --interactive it trains one epoch per line "epoch" read on stdin (the bench interleaves its own epochs with
these) and stops at "quit" or end of input; without it, it trains --epochs epochs. An epoch's time covers what
ntk4j's trainer times: the shuffle's gather, forward, loss, backward and the Adam step of every mini-batch; the
loss is read back each step, as ntk4j's trainer does.

ntk4j's NTK parameterisation multiplies each layer's product by w_std / sqrt(fan_in): an elementwise scale, a
negligible cost next to the matmuls, so plain nn.Linear is the same work.
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np
import torch


def blas_info():
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    return m.group(1) if m else "unknown"


def blas_libs():
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and re.search(r"(blas|mkl)[^/]*\.so", parts[5]) and parts[5] not in libs:
                    libs.append(parts[5])
    except OSError:
        pass
    return " ".join(libs) if libs else "none found"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--x", required=True, help="float32 inputs [N, ...] (.npy), already standardised")
    ap.add_argument("--y", required=True, help="integer labels [N] (.npy)")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--out", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interactive", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    y = torch.from_numpy(np.load(a.y).astype(np.int64))
    n = y.shape[0]
    x = torch.from_numpy(np.ascontiguousarray(np.load(a.x), dtype=np.float32)).reshape(n, -1)
    layers = [torch.nn.Flatten()]
    fan_in = x.shape[1]
    for _ in range(a.depth):
        layers += [torch.nn.Linear(fan_in, a.width), torch.nn.ReLU()]
        fan_in = a.width
    layers.append(torch.nn.Linear(fan_in, a.out))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        model(x[: min(n, a.batch)])  # maps the BLAS library in before it is reported
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"status": "ready", "torch": torch.__version__, "blas_info": blas_info(),
                      "blas_libs": blas_libs(), "preload": os.environ.get("LD_PRELOAD") or "none",
                      "threads": str(torch.get_num_threads()),
                      "examples": str(n), "parameters": str(params)}), flush=True)

    epoch = 0

    def train_epoch():
        nonlocal epoch
        epoch += 1
        perm = torch.randperm(n)
        total = 0.0
        t0 = time.perf_counter()
        for start in range(0, n, a.batch):
            idx = perm[start:start + a.batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        s = time.perf_counter() - t0
        print(json.dumps({"epoch": epoch, "examples_per_second": n / s, "seconds": s, "loss": total / n}),
              flush=True)

    if a.interactive:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "epoch":
                train_epoch()
            elif cmd == "quit":
                break
            elif cmd:
                print(json.dumps({"status": "error", "detail": "unknown command " + cmd}), flush=True)
    else:
        for _ in range(a.epochs):
            train_epoch()


if __name__ == "__main__":
    main()
