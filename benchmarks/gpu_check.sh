#!/usr/bin/env bash
# One prepared GPU measurement for docs/PERFORMANCE.md: per-method rows (JSON lines) and the projected
# GPU-hours of the paper suites, on the GPU this runs on. Writes to ${1:-benchmarks/out}/.
#   bash benchmarks/gpu_check.sh [output folder]          # ~10 min on an H100-class GPU
set -uo pipefail   # a preset that fails (exit 1) does not stop the others
out=${1:-benchmarks/out}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
nvidia-smi -L > "$out/device.txt"
python benchmarks/throughput.py --device cuda --preset roberta-large --batch-size 64 --repeats 20 \
    --methods full_ft,lora,houlsby,pfeiffer,adapter,adamix_adapter,adamix_lora --project glue_roberta_large --json \
    > "$out/roberta-large.jsonl"
python benchmarks/throughput.py --device cuda --preset gpt2-medium --batch-size 8 --eval-batch-size 32 --repeats 20 \
    --methods full_ft,lora,houlsby,adamix_adapter,adamix_lora --project nlg_gpt2_medium --json \
    > "$out/gpt2-medium.jsonl"
python benchmarks/throughput.py --device cuda --preset bert-base --batch-size 64 --repeats 20 \
    --methods full_ft,houlsby,bitfit,prefix_tuning,lora,unipelt,adamix_adapter --project glue_bert_base --json \
    > "$out/bert-base.jsonl"
