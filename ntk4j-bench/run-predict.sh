#!/usr/bin/env bash
# The issue's must-show, measured: kernel regression (t = ∞) with the eNTK of fcn(depth=3,width=512) at
# initialisation on the embedded first 2,000 training / 1,000 test Fashion-MNIST images (globally standardised),
# for the kinds given (default: full trace pntk), each in its own JVM through the ./ntk4j launcher; then the
# training curves of the pNTK (finite t) and the spectrum and heatmap plots of its train kernel. Writes the JSON reports and outputs under
# ntk4j-bench/predict/, the table ntk4j-bench/predict_results.md (one row per kind measured so far: re-running a
# subset of kinds replaces their rows) and the plots under docs/predict/.
#   bash ntk4j-bench/run-predict.sh                 # full, trace, pntk (full: ~8 GiB resident, minutes)
#   bash ntk4j-bench/run-predict.sh trace pntk      # the N×N kinds only
# The full kind's 20000×20000 float64 train kernel (3.2 GB) lives off the Java heap; JavaCPP refuses allocations
# past its maxBytes, hence the options below.
# The script regenerates its own records, so it passes --overwrite for them; each command's printed output goes to
# a scratch file that replaces the record only when the command succeeds, and a failing command's error is shown.
# Every record (the printed outputs, the table's rows, the table) is written whole in a scratch folder beside the
# records, then renamed into place: a failure (a full disk) leaves the previous record, never a truncated one (a
# rename across file systems, from /tmp, would copy into the record itself).
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(full trace pntk)
export NTK4J_JAVA_OPTS="${NTK4J_JAVA_OPTS:--Xmx2g -Dorg.bytedeco.javacpp.maxBytes=12g}"
mkdir -p ntk4j-bench/predict docs/predict
./ntk4j --version > /dev/null   # builds first if needed, so that no build is timed
field() { sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" "$2" | head -1; }
scratch=$(mktemp -d ntk4j-bench/predict/.scratch.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# run NAME COMMAND...: the command's stdout to ntk4j-bench/predict/NAME.txt (and the terminal) once it succeeded
run() {
  local name=$1; shift
  if ! "$@" > "$scratch/$name.txt"; then
    echo "run-predict.sh: failed: $*" >&2
    exit 2
  fi
  mv "$scratch/$name.txt" "ntk4j-bench/predict/$name.txt"
  cat "ntk4j-bench/predict/$name.txt"
}
for kind in "${kinds[@]}"; do
  report="ntk4j-bench/predict/$kind.json"
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s)
  # CPU seconds of the JVM (user + system) next to the wall clock: the machine may be shared
  if ! { TIMEFORMAT='%U %S'; time ./ntk4j predict --kind "$kind" --report "$report" --overwrite \
      > "$scratch/$kind.txt"; } 2> "$scratch/$kind.time"; then
    cat "$scratch/$kind.time" >&2   # the command's own error line, not only its time
    echo "run-predict.sh: failed: ./ntk4j predict --kind $kind" >&2
    exit 2
  fi
  mv "$scratch/$kind.txt" "$scratch/$kind.time" ntk4j-bench/predict/
  cat "ntk4j-bench/predict/$kind.txt"
  cpu=$(tail -1 "ntk4j-bench/predict/$kind.time" | awk '{print $(NF-1) + $NF}')
  awk -v k="$kind" -v a="$(field t_inf.test_accuracy "$report")" -v m="$(field t_inf.test_mse "$report")" \
      -v tk="$(field train_kernel_seconds "$report")" -v sk="$(field test_kernel_seconds "$report")" \
      -v r="$(field regression_seconds "$report")" -v t="$(field total_seconds "$report")" -v c="$cpu" \
      -v b="$(field peak_resident_bytes "$report")" -v l="$load_before $(cut -d' ' -f1 /proc/loadavg)" \
      -v d="$(date -u +%Y-%m-%d)" \
      'BEGIN { printf "| %s | %.1f%% | %.4f | %.1f | %.1f | %.1f | %.1f | %.0f | %.2f GiB | %s | %s |\n", k, 100*a, m, tk, sk, r, t, c, b/1073741824, l, d }' \
      > "$scratch/$kind.row"
  mv -f "$scratch/$kind.row" "ntk4j-bench/predict/$kind.row"
done
# linearised training at finite t (eigendecomposition of the pNTK train kernel): the training curves
run curves ./ntk4j predict \
  --t 0.1,0.3,1,3,10,30,100,300,1000,3000,10000,30000,100000,300000,1000000,3000000,10000000,inf \
  --plots docs/predict --report ntk4j-bench/predict/curves.json --overwrite
run spectrum ./ntk4j spectrum --kind pntk --plots docs/predict --report ntk4j-bench/predict/spectrum.json --overwrite
out=ntk4j-bench/predict_results.md
{
  echo "fcn(depth=3,width=512) at initialisation (seed 0), kernel regression t = ∞, diag_reg 1e-4 × mean diagonal,"
  echo "one-hot targets, f0 = 0; first 2,000 train / 1,000 test Fashion-MNIST images (embedded default), globally"
  echo "standardised; kernel in float32, regression in float64; $(nproc) cores. Seconds are wall clock inside the JVM;"
  echo "CPU is the JVM's user + system seconds; load is the 1-minute load average before and after the run."
  echo
  echo "| kind | test accuracy | test MSE | train kernel (s) | test kernel (s) | regression (s) | total (s) | CPU (s) | peak resident memory | load | date |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for kind in full trace pntk; do [ -f "ntk4j-bench/predict/$kind.row" ] && cat "ntk4j-bench/predict/$kind.row"; done
  for f in ntk4j-bench/predict/*.row; do
    k=$(basename "$f" .row); case "$k" in full|trace|pntk) ;; *) cat "$f" ;; esac
  done
} > "$scratch/results.md"
mv -f "$scratch/results.md" "$out"
cat "$out"
