#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one go (BENCHMARKS.md, "On a CUDA GPU"):
#   bash benchmarks/cuda_checks.sh OUT_DIR
# 1. drift of the TF32 / 16-bit encoder against float32 on the parity inputs (benchmarks/precision_drift.py);
# 2. the latency task for the four models (float32), and RepViT-SAM unfused, with CUDA graphs and in bf16;
# 3. the CI regression run (sample data, fixed untrained weights) on CUDA, compared with the CPU baseline;
# 4. RepViT-SAM's encoder under every CUDA configuration, round robin in one process (benchmarks/bench_latency.py);
# 5. bf16x3 (models/bf16x3.py): its tests on CUDA, its speed for the four models, the regression run in bf16x3
#    (benchmarks/profile_encoder.py shows where a configuration's time goes).
# Each stage has its own time limit and log (OUT_DIR/<stage>.log); a failing stage does not stop the next.
# STAGES="drift latency" runs only those.
# Packages missing on the machine can travel as wheels in .whl/ (installed to /tmp/site first).
set -u
out=${1:?usage: bash benchmarks/cuda_checks.sh OUT_DIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
if compgen -G ".whl/*.whl" > /dev/null; then
    $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"

stage() {  # stage NAME SECONDS COMMAND...: run with a limit, keep the log, print its end
    local name=$1 limit=$2
    shift 2
    [[ " ${STAGES:-$name} " == *" $name "* ]] || return 0
    local start=$SECONDS
    timeout "$limit" bash -c '"$@"' _ "$@" > "$out/$name.log" 2>&1  # bash -c: a stage may be a function below
    echo "=== $name: exit $?, $((SECONDS - start)) s"
    tail -n "${TAIL:-15}" "$out/$name.log"
}

latency_runs() {
    local m
    for m in repvit mobilesam vit_b vit_h; do
        $python run_eval.py --task latency --model "$m" --untrained --device cuda --runs 50 --warmup 10 --out "$out/latency" || return
    done
    $python run_eval.py --task latency --model repvit --untrained --device cuda --runs 50 --warmup 10 --no-fuse --out "$out/latency.unfused" &&
    $python run_eval.py --task latency --model repvit --untrained --device cuda --runs 50 --warmup 10 --precision bf16 --out "$out/latency" &&
    $python run_eval.py --task latency --model repvit --untrained --device cuda --runs 50 --warmup 10 --backend cudagraphs --out "$out/latency" &&
    $python run_eval.py --tables --out "$out/latency" && cat "$out/latency/TABLES.md"
}

regression_on_cuda() {
    $python -m evals.demo --untrained --skip latency --out "$out/ci" --device cuda &&
    $python run_eval.py --task bsds --model bench_png --predictions tests/data/bsds500_bench/png \
        --data-root datasets/sample --out "$out/ci" &&
    $python run_eval.py --compare tests/data/regression_baseline --out "$out/ci" --tolerance "${TOLERANCE:-1e-6}"
    cat "$out/ci/REGRESSION.md"
}

regression_bf16x3() {  # the CI regression run with the encoder in bf16x3: how far do the task metrics move?
    $python -m evals.demo --untrained --skip latency --out "$out/ci_bf16x3" --device cuda --precision bf16x3 &&
    $python - "$out/ci_bf16x3" <<'PY'
import sys
from pathlib import Path
from evals.compare import numeric_metrics
from evals.tables import load_results
baseline, now = load_results(Path("tests/data/regression_baseline")), load_results(Path(sys.argv[1]))
deltas = []
for task, runs in now.items():
    for run, result in runs.items():
        before = numeric_metrics(baseline[task][run.replace(".bf16x3", "")])
        for metric, value in numeric_metrics(result).items():
            deltas.append((abs(value - before[metric]), task, run, metric, before[metric], value))
print(f"{len(deltas)} metrics; moved by more than 1e-6: {sum(d[0] > 1e-6 for d in deltas)}, 1e-4: "
      f"{sum(d[0] > 1e-4 for d in deltas)}, 1e-3: {sum(d[0] > 1e-3 for d in deltas)}")
for row in sorted(deltas, reverse=True)[:15]:
    print(*row)
PY
}

bf16x3_models() {
    local m
    for m in mobilesam vit_b vit_h; do
        $python benchmarks/bench_latency.py --device cuda --model "$m" --runs 20 --warmup 5 --backends eager eager+bf16x3 ||
            return
    done
}

export out python
export -f latency_runs regression_on_cuda regression_bf16x3 bf16x3_models
TAIL=40 stage drift 70 $python benchmarks/precision_drift.py --device cuda --json "$out/drift.json"
TAIL=30 stage latency 150 latency_runs
TAIL=60 stage regression 90 regression_on_cuda
stage backends 40 $python benchmarks/bench_latency.py --device cuda --runs 50 --warmup 10 \
    --backends eager_unfused eager channels_last eager+tf32 channels_last+tf32 eager+bf16 eager+fp16
stage backends_compiled 100 $python benchmarks/bench_latency.py --device cuda --runs 50 --warmup 5 \
    --backends eager_unfused eager compile cudagraphs cudagraphs+tf32 cudagraphs+bf16
stage bf16x3_backends 150 $python benchmarks/bench_latency.py --device cuda --runs 50 --warmup 10 \
    --backends eager_unfused eager eager+bf16x3 cudagraphs cudagraphs+bf16x3 compile+bf16x3 cudagraphs+tf32
stage bf16x3_profile 90 $python benchmarks/profile_encoder.py --device cuda --channels-last --runs 20 \
    --configs cudagraphs+bf16x3 compile+bf16x3  # is channels-last worth making the cudagraphs default?
stage bf16x3_tests 100 $python -m pytest -q -p no:cacheprovider tests/test_bf16x3.py tests/test_backends.py
stage bf16x3_models 60 bf16x3_models
TAIL=60 stage regression_bf16x3 80 regression_bf16x3
tar -czf "$out/results.tar.gz" -C "$out" latency latency.unfused ci 2> /dev/null
