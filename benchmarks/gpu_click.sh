#!/usr/bin/env bash
# Click studies on a GPU machine: every line of SPECS is one study (`LABEL --set ... [--budget N]`),
# all run at once with PARALLEL priors each (one-thread processes sharing the GPU: a 0.82M-model
# prior of 6M tokens took ~3 min with 16 at once on an H200, docs/pretraining.md). Each study is
# stopped at LIMIT seconds (its running seeds are recorded as interrupted); the rows, every run's
# metrics.jsonl, config.yaml and corpus.json go to $OUT/click.tgz, each study's log beside it.
#
#   SEEDS=0-9 PARALLEL=4 LIMIT=420 bash benchmarks/gpu_click.sh benchmarks/click_specs.txt
#   tar xzf click.tgz -C runs/click && python benchmarks/click_study.py LABEL --out runs/click --summarize
set -uo pipefail
cd "$(dirname "$0")/.."
specs=${1:?usage: gpu_click.sh SPECS (one study per line: LABEL --set ...)}
out=${OUT:-benchmarks/out}
runs=$(mktemp -d)
py=$(command -v python || command -v python3)
export PYTHONUNBUFFERED=1
mkdir -p "$out"
while read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  eval "args=($line)"
  timeout -s INT "${LIMIT:-420}" "$py" benchmarks/click_study.py --seeds "${SEEDS:-0-9}" "${args[@]}" \
    --out "$runs" --parallel "${PARALLEL:-4}" > "$out/${args[0]}.log" 2>&1 &   # a line's own --seeds wins
done < "$specs"
wait
(cd "$runs" && find . \( -name metrics.jsonl -o -name config.yaml -o -name corpus.json -o -name "*.jsonl" \) \
  -print0 | tar czf "$out/click.tgz" --null -T -)
tail -n 2 "$out"/*.log
