#!/usr/bin/env bash
# Tiled pNTK benchmark (issue 6): the N×N pntk kernel of SOURCE (default: 4,000 Fashion-MNIST training images)
# written tile by tile under a memory budget, with the machine's SGEMM rate measured in the same session for the
# ratio: first the command line (wall time, peak RSS), then TiledPntkBench (SGEMM rate, untiled and tiled runs
# interleaved round by round, medians). Usage: ntk4j-bench/run-tiled-pntk.sh [SOURCE] [MODEL] [MEMORY] [XMX]
#   SOURCE  a --data source, e.g. fashion-mnist:train:4000 or a .npy file [4000, 28, 28]
# TiledPntkBench reads a .npy: for another source the command line writes nothing it can read, so give a .npy
# (or set NPY=path to one) for the interleaved part.
# noclobber: the shell's own redirections (time.txt) refuse a file already in OUT, as the commands do theirs
set -euo pipefail -o noclobber
cd "$(dirname "$0")/.."
SOURCE=${1:-fashion-mnist:train:4000}
MODEL=${2:-fcn(depth=2,width=512,out=10)}
MEMORY=${3:-1g}
XMX=${4:-2g}
# OUT: where the kernels (pntk.npy from the command line, pntk_tiled.npy from TiledPntkBench), reports and timings
# go; by default a fresh folder each run (the commands and this script refuse to write over files already there,
# as in a folder given as OUT)
OUT=${OUT:-$(mktemp -d /tmp/ntk4j-tiled-pntk.XXXXXX)}
mkdir -p "$OUT"
echo "== outputs in $OUT"
mvn -B -q package -Dmaven.test.skip=true >&2
CP="ntk4j-bench/target/classes:$(cat ntk4j-cli/target/launcher.classpath):ntk4j-cli/target/classes"
cores=$(nproc)
echo "== SGEMM rate before"
java -Xmx1g -cp "$CP" org.ntk4j.bench.SgemmRate "$cores" 7
echo "== tiled pntk: $MODEL on $SOURCE, --memory $MEMORY, -Xmx$XMX"
/usr/bin/time -v java -Xmx"$XMX" -cp "$CP" org.ntk4j.cli.Main kernel --model "$MODEL" --data "$SOURCE" \
    --kind pntk --dtype f32 --memory "$MEMORY" --out "$OUT/pntk.npy" --report "$OUT/pntk.json" 2> "$OUT/time.txt"
grep -E "Maximum resident|Elapsed" "$OUT/time.txt" || true
cat "$OUT/pntk.json"
echo "== the same kernel untiled, in memory (no --out), for comparison"
java -Xmx"$XMX" -cp "$CP" org.ntk4j.cli.Main kernel --model "$MODEL" --data "$SOURCE" --kind pntk --dtype f32 \
    --memory "$MEMORY" --report "$OUT/untiled.json"
echo "== SGEMM rate after"
java -Xmx1g -cp "$CP" org.ntk4j.bench.SgemmRate "$cores" 7
NPY=${NPY:-$SOURCE}
if [[ "$NPY" == *.npy ]]; then
  echo "== interleaved: SGEMM, untiled, tiled (3 rounds)"
  java -Xmx"$XMX" -cp "$CP" org.ntk4j.bench.TiledPntkBench "$NPY" "$MODEL" "$MEMORY" 3 "$OUT"
fi
