#!/usr/bin/env bash
# Check the CUDA paths of `modelreg benchmark` on a GPU machine and keep the reports.
#
#   benchmarks/gpu_check.sh MODEL_DIR OUT_DIR
#
# MODEL_DIR holds model.onnx and model.pt from the digits-cnn pipeline
# (outputs/digits-cnn after `dvc repro`). The machine needs torch with CUDA and
# onnxruntime-gpu (the `gpu` extra) importable. Writes into OUT_DIR: two runs of
# one version (run-to-run stability), one run comparing the version with itself
# interleaved (the verdict should say "no change"), and one run on the host's CPU.
set -euo pipefail
model_dir=$1
out=$2
mkdir -p "$out"
bench() { python3 -m modelreg benchmark --onnx "$model_dir/model.onnx" \
    --checkpoint "$model_dir/model.pt" --device cuda --batch-sizes 1,8,64,256 \
    --budget 1.0 --warmup 100 "$@"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import onnxruntime as o, torch; print('onnxruntime', o.__version__, o.get_available_providers()); print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
bench --out "$out/gpu_run1.json" | tee "$out/gpu_run1.txt"
bench --out "$out/gpu_run2.json" | tee "$out/gpu_run2.txt"
python3 -m modelreg benchmark --onnx "$model_dir/model.onnx" --checkpoint "$model_dir/model.pt" \
    --baseline-onnx "$model_dir/model.onnx" --baseline-checkpoint "$model_dir/model.pt" \
    --device cuda --batch-sizes 1,64 --budget 1.0 --warmup 100 \
    --out "$out/gpu_self_comparison.json" | tee "$out/gpu_self_comparison.txt"
python3 -m modelreg benchmark --onnx "$model_dir/model.onnx" --checkpoint "$model_dir/model.pt" \
    --device cpu --batch-sizes 1,8,64,256 --threads 1 --out "$out/cpu_run.json" | tee "$out/cpu_run.txt"
