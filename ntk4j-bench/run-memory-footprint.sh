#!/usr/bin/env bash
# The process's memory beside --memory (docs/big-kernels.md, "What --memory bounds"): each run of the table there,
# its resident memory sampled every 20 ms from /proc (the peak of RssAnon: the JVM, its heap, native and tensor
# memory; of RssFile: mapped files, a tiled run's output included) beside the tensor peak and its prediction from
# --report. Writes ntk4j-bench/memory_footprint_NAME.txt. Needs torch in /usr/bin/python3 for the ONNX row.
#   bash ntk4j-bench/run-memory-footprint.sh [NAME]     (about 5 minutes on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
launcher="$here/../ntk4j"
name="${1:-$(date -u +%F)}"
out="$here/memory_footprint_$name.txt"
[ ! -e "$out" ] || { echo "run-memory-footprint.sh: $out exists; give another NAME" >&2; exit 2; }
work="$(mktemp -d /tmp/ntk4j-mem.XXXX)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/cnn.onnx" <<'PY'
import sys, torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
torch.onnx.export(m, torch.randn(1, 3, 32, 32), sys.argv[1], input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13)
PY
"$launcher" models > /dev/null # builds the jar first, outside the measurements

# run LABEL BUDGET ARGS...: one measured command (BUDGET - for the default)
run() {
  local label=$1 budget=$2
  shift 2
  rm -f "$work"/R.json "$work"/K.npy*
  local bopt=()
  [ "$budget" = - ] || bopt=(--memory "$budget")
  (cd "$work" && exec "$launcher" "$@" --report R.json "${bopt[@]}" > out.txt 2> err.txt) &
  local pid=$! ma=0 mf=0 a f
  while kill -0 "$pid" 2> /dev/null; do
    # the launcher execs java: the same process id
    if read -r a f < <(awk '/^RssAnon/{a=$2}/^RssFile/{f=$2}END{print a+0,f+0}' "/proc/$pid/status" 2> /dev/null); then
      [ "$a" -le "$ma" ] || ma=$a
      [ "$f" -le "$mf" ] || mf=$f
    fi
    sleep 0.02
  done
  local rc=0
  wait "$pid" || rc=$?
  local peak
  peak=$(/usr/bin/python3 -c "import json; d = json.load(open('$work/R.json')); print('%.0f MiB (%.0f)' % (d['peak_bytes'] / 2**20, d['predicted_peak_bytes'] / 2**20))" 2> /dev/null || echo "-")
  printf '| %s | %s | %s | %d MiB | %d MiB | %s |\n' "$label" "$budget" "$peak" $((ma / 1024)) $((mf / 1024)) \
    "$([ $rc = 0 ] && echo ok || echo "exit $rc: $(tail -c 200 "$work/err.txt")")" | tee -a "$out"
}

{
  echo "# \`run-memory-footprint.sh $name\` on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
  echo
  echo "| run (\`kernel\`, f32) | --memory | tensor peak (predicted) | RssAnon peak | RssFile peak | |"
  echo "|---|---|---|---|---|---|"
} > "$out"
F='fcn(depth=2,width=512,out=10)'
run "fcn(depth=1,width=8,out=2), 4 examples (the fixed overhead)" - kernel --model 'fcn(depth=1,width=8,out=2)' --data synthetic:4,4 --kind trace
run "cnn(depth=2,channels=32,out=10), 500 of 16x16x3, trace" 512m kernel --model 'cnn(depth=2,channels=32,out=10)' --data synthetic:500,16,16,3 --kind trace
run "ONNX CNN (2 convolutions, PyTorch), 300 of 3x32x32, trace" 512m kernel --model "$work/cnn.onnx" --data synthetic:300,3,32,32 --kind trace
run "resnet(blocks=2,channels=16), 300 of 16x16x3, trace" 512m kernel --model 'resnet(blocks=2,channels=16,out=10)' --data synthetic:300,16,16,3 --kind trace
run "$F, 4000 of 784, trace" 512m kernel --model "$F" --data synthetic:4000,784 --kind trace
run "transformer(layers=2,dim=64), 500 of 16x32, trace" 256m kernel --model 'transformer(layers=2,dim=64,heads=4,out=10)' --data synthetic:500,16,32 --kind trace
run "cnn(depth=2,channels=32), 500, full, --out (tiled)" 256m kernel --model 'cnn(depth=2,channels=32,out=10)' --data synthetic:500,16,16,3 --kind full --out K.npy
run "$F, 1000, full, --out (tiled)" 256m kernel --model "$F" --data synthetic:1000,784 --kind full --out K.npy
run "$F, 1000, diagonal, --method vp --out" 256m kernel --model "$F" --data synthetic:1000,784 --kind diagonal --method vp --out K.npy
echo "wrote $out"
