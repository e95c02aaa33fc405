#!/usr/bin/env bash
# Runs org.ntk4j.bench.NtkMethodsBench (JC vs NTK-VP vs SD) through the launcher (`./ntk4j bench methods`, which
# builds what is stale); arguments go to the bench, e.g. --quick, --blas-threads 1. Results:
# ntk4j-bench/ntk_methods*.md and .csv. JC needs up to ~10 GiB of off-heap tensors in the width sweep: JavaCPP
# refuses allocations past maxBytes, hence the larger limits.
set -euo pipefail
cd "$(dirname "$0")/.."
NTK4J_JAVA_OPTS="-Xmx20g -Dorg.bytedeco.javacpp.maxBytes=20g ${NTK4J_JAVA_OPTS:-}" exec ./ntk4j bench methods "$@"
