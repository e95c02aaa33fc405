#!/usr/bin/env bash
# The README's ResNet table (issue 15): `./ntk4j bench resnet` in three runs, each writing its resnet.md under
# target/bench-resnet/:
#   o1000/  ResNet-18, O = 1000, N = 1 within 4.7 GiB, the CLI launcher's default budget on a 24 GiB machine
#           (80% of its default heap); structured derivatives' output chunks (30,660 GFLOP there) are left out
#           by --max-gflop, NTK-vector products in budget-sized tiles run (14,350 GFLOP)
#   small/  ResNet-18 at (O = 8, N = 8) and (O = 128, N = 1), the bench's default budget (8 GiB); NTK-vector
#           products at O = 8, N = 8 (7,358 GFLOP, for both ntk4j and PyTorch) are left out by --max-gflop
#   r50/    ResNet-50, O = 8, N = 8, the bench's default budget (8 GiB: structured derivatives need 6.2 GiB, the
#           Jacobian contraction 7.1 GiB since the per-example pass holds each cotangent once; 9.4 and 10.1 GiB
#           before, when a 12 GiB run and one in output chunks were needed), beside PyTorch's peers
# PyTorch's peers get 16 GiB (at most 75% of the memory available) and 1800 s each, Debian's OpenBLAS (installed
# when missing) and their fastest kernels (probed). ntk4j runs under OPENBLAS_CORETYPE as the environment sets it:
# the README's table ran with it unset (`env -u OPENBLAS_CORETYPE bash ntk4j-bench/run-resnet.sh`), each program
# with OpenBLAS's fastest kernels. Extra options go to every run.
set -euo pipefail
cd "$(dirname "$0")/.."
./ntk4j bench resnet --settings resnet18:1000:1 --budget-gib 4.7 --max-gflop 15000 --out target/bench-resnet/o1000 "$@"
./ntk4j bench resnet --settings resnet18:8:8,resnet18:128:1 --max-gflop 2000 --out target/bench-resnet/small "$@"
./ntk4j bench resnet --settings resnet50:8:8 --max-gflop 4000 --out target/bench-resnet/r50 "$@"
