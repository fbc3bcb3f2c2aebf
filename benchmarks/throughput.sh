#!/usr/bin/env bash
# Prediction throughput of one model on every task (BENCHMARKS.md, "Prediction throughput per task"):
#   bash benchmarks/throughput.sh MODEL [OUT_DIR] [extra run_eval.py options, e.g. --device cuda]
# Untrained weights (speed does not depend on the values), the bundled sample data (COCO: the real val2017 images of
# ../shared/data/coco_tiny_val2017 when present), paper protocol settings unless named in the table. Prints one
# markdown row per task from the results' provenance.timings, then the projected hours of the full paper datasets
# for every model with results in OUT_DIR (benchmarks/project_reproduction.py).
set -eu
model=${1:?usage: bash benchmarks/throughput.sh MODEL [OUT_DIR] [run_eval options]}
out=${2:-results/throughput}
shift $(($# < 2 ? $# : 2))
sample=datasets/sample
coco=../shared/data/coco_tiny_val2017
[ -d "$coco" ] || coco=$sample
run() { python run_eval.py --model "$model" --untrained --overwrite --out "$out" "$@"; }

run --task bsds --data-root "$sample" --limit 1 "$@"
run --task coco --data-root "$coco" --boxes gt --limit 5 "$@"
run --task davis --data-root "$sample" --tracker lk "$@"
run --task uvo --data-root "$sample" --tracker lk "$@"
run --task sod --data-root "$sample" --limit 2 "$@"
run --task mvtec --data-root "$sample" --mvtec-prompts "$sample/mvtec_anomaly_detection/saa_prompts" --mvtec-categories tile,bottle "$@"
run --task seginw --data-root "$sample" --seginw-boxes gt --seginw-datasets Synthetic-Shapes,Synthetic-Blobs "$@"

python - "$out" "$model" <<'EOF'
import json, sys
from pathlib import Path
out, model = Path(sys.argv[1]), sys.argv[2]
print("| task (run) | samples | predict s | samples/s | encoder calls | encoder share | peak RSS MB | peak GPU MB |")
print("|---|---|---|---|---|---|---|---|")
for path in sorted(out.glob(f"*/{model}*.json")):
    timings = json.loads(path.read_text())["provenance"]["timings"]
    peak = timings["peak_memory_mb"]
    print(f"| {path.parent.name} ({path.stem}) | {timings['predicted_samples']} | {timings['predict_seconds']:.1f} | "
          f"{timings['samples_per_second']:.3g} | {timings['encoder_calls']} | {timings['encoder_share']:.1%} | "
          f"{peak['host_rss']:.0f} | {peak.get('cuda_allocated', '')} |")
EOF
echo
python benchmarks/project_reproduction.py "$out"
