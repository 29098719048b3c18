#!/usr/bin/env bash
# Train every candidate of the issue-11 emotion selection in one run and export each to ONNX.
#
#   OUT=out/candidates DEVICE=cuda scripts/train_emotion_candidates.sh            # a CUDA machine: all at once
#   OUT=out/candidates DEVICE=cpu JOBS=1 scripts/train_emotion_candidates.sh      # CPU: one run after another
#   EPOCHS=1 TRAIN_SUBSET=512 ...                                                 # a trial of the script itself
#
# Every config reads ../shared/data (see its SOURCE.txt files). Each run lands in $OUT/runs/<config> and
# resumes from there (--resume); $OUT/<config>.onnx is its last epoch, exported with its provenance. Then
# scripts/select_emotion_ensemble.py chooses among them on the three dev sets. Nothing else depends on
# this script: the shipped models were trained with the same configs on CPU (models/MODELS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:?set OUT to the output folder}"
DEVICE="${DEVICE:-auto}"
JOBS="${JOBS:-4}"
CONFIGS=("$@")
if [ ${#CONFIGS[@]} -eq 0 ]; then
  CONFIGS=(fer_resnet_ferplus_mix mini_xception_ferplus_mix mini_xception_fer2013_finetune fer_resnet_ferplus)
fi
extra=(--device "$DEVICE" --no-progress)
[ -n "${EPOCHS:-}" ] && extra+=(--epochs "$EPOCHS")
[ -n "${TRAIN_SUBSET:-}" ] && extra+=(--train-subset "$TRAIN_SUBSET")
mkdir -p "$OUT/runs"
running=0
for name in "${CONFIGS[@]}"; do
  config="fer_ros/training/configs/$name.yaml"
  [ -f "$config" ] || { echo "no such config: $config" >&2; exit 2; }
  (fer-ros-train --config "$config" --run-dir "$OUT/runs/$name" --resume "${extra[@]}" > "$OUT/$name.log" 2>&1 \
     && fer-ros-export "$OUT/runs/$name/last.pt" -o "$OUT/$name.onnx" >> "$OUT/$name.log" 2>&1 \
     && echo "$name: done ($OUT/$name.onnx)" || { echo "$name: FAILED, see $OUT/$name.log" >&2; exit 1; }) &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
status=0
while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
exit $status
