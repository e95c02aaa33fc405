#!/usr/bin/env bash
# Float32 accuracy of every method and kind against float64 (docs/kernels.md, "Float32 accuracy"), with the NumPy
# float32 J·Jᵀ baseline: one JSON line per (setting, kind, method) into ntk4j-bench/float32_accuracy_NAME.jsonl.
# Needs NumPy and (for the baselines and the ONNX setting) torch in /usr/bin/python3. About 20 minutes on 2 cores.
#   bash ntk4j-bench/run-float32-accuracy.sh [NAME] [SETTING...]   (default: every setting)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="${1:-$(date -u +%F)}"
shift || true
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(fcn512 deep fcn2048 cnn resnet18 transformer onnx)
work="$(mktemp -d /tmp/ntk4j-f32.XXXX)"
out="$here/float32_accuracy_$name.jsonl"
[ ! -e "$out" ] || { echo "run-float32-accuracy.sh: $out exists; give another NAME" >&2; exit 2; }
py=/usr/bin/python3
for s in "${settings[@]}"; do
  if [ "$s" = onnx ]; then "$py" "$here/float32-accuracy/onnx_model.py" "$work"; fi
  "$py" "$here/float32-accuracy/measure.py" "$s" "$work" | tee -a "$out"
  case "$s" in fcn512|deep|onnx) (cd "$here/float32-accuracy" && "$py" baseline.py "$s" "$work") | tee -a "$out" ;; esac
done
rm -rf "$work"
echo "wrote $out"
