#!/usr/bin/env bash
# Builds the project and runs org.ntk4j.bench.NtkMethodsBench (JC vs NTK-VP vs SD); arguments go to the bench,
# e.g. --quick, --blas-threads 1. Results: ntk4j-bench/ntk_methods*.md and .csv.
# JC needs up to ~10 GiB of off-heap tensors in the width sweep: JavaCPP refuses allocations past maxBytes.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q package -Dmaven.test.skip=true
# ntk4j-core's runtime class path (resolved from the reactor, so nothing needs to be installed)
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -B -q dependency:build-classpath -pl ntk4j-core -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file" >/dev/null
exec java -Xmx20g -Dorg.bytedeco.javacpp.maxBytes=20g \
  -cp "ntk4j-bench/target/classes:ntk4j-core/target/classes:$(cat "$cp_file")" \
  org.ntk4j.bench.NtkMethodsBench "$@"
