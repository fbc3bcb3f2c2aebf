#!/usr/bin/env bash
# Latency of every registered model on this machine, untrained weights (latency does not depend on the weights):
#   benchmarks/latency_all.sh OUT [run_eval.py options, e.g. --device cuda]
# -> OUT/latency/<model>.json for each model, then OUT/TABLES.md (BENCHMARKS.md, "Latency of every model").
set -euo pipefail
out=${1:?usage: benchmarks/latency_all.sh OUT [run_eval.py options]}
shift
python=${PYTHON:-python}
for model in $($python -c "from models.registry import variant_names; print(' '.join(variant_names()))"); do
    $python run_eval.py --task latency --model "$model" --untrained --runs 3 --warmup 1 --out "$out" "$@"
done
$python run_eval.py --tables --out "$out"
