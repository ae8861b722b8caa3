#!/usr/bin/env bash
# The GPU check: one command, at most ~10 minutes on one CUDA GPU. Runs the CUDA-marked tests, then
# measures pretraining MFU on a ~110M-parameter model (d_model 768, 12 layers, d_ff 3072, bf16), the
# sampler's tokens/s against transformers generate (256 rows), and one RL step (priorlab's path; TRL
# only where the `bench` extra is installed), and writes every figure as JSON to $OUT/gpu.json
# (OUT defaults to benchmarks/out). Exit code 3 without a CUDA device: nothing was measured.
#
#   bash benchmarks/gpu.sh            # then copy the figures into docs/performance.md
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/out}
mkdir -p "$out"
py=$(command -v python || command -v python3)   # a CUDA image may only have python3
export PYTHONUNBUFFERED=1
tmp=$(mktemp -d)   # the untrained model stays out of $out: only the logs and gpu.json come back
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" \
  || { echo "gpu.sh: no CUDA device here; nothing was measured" >&2; exit 3; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu_device.txt" 2>&1

timeout 120 "$py" -m pytest -q -m cuda tests/test_cuda.py > "$out/gpu_tests.log" 2>&1
tests_rc=$?
timeout 180 "$py" benchmarks/bench_pretrain.py --device cuda --precision bf16 --compile off --steps 30 --peak-seconds 2 --json \
  --set model.d_model=768 --set model.n_layers=12 --set model.n_heads=12 --set model.d_ff=3072 \
  --set pretrain.batch_size=32 --set pretrain.seq_len=512 > "$out/gpu_pretrain.log" 2>&1
"$py" -c "from pathlib import Path; import sys; sys.path.insert(0, 'benchmarks'); from bench_rl_step import make_model; make_model(Path('$tmp/untrained'))" \
  > "$out/gpu_model.log" 2>&1
timeout 90 "$py" benchmarks/bench_sampler.py "$tmp/untrained" --rows 256 --json > "$out/gpu_sampler.log" 2>&1
timeout 90 "$py" benchmarks/bench_rl_step.py --which priorlab --steps 5 --json > "$out/gpu_rl_step.log" 2>&1

"$py" - "$out" "$tests_rc" <<'PY'
import json, pathlib, sys
out, rc = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def last(name):
    try:
        return json.loads((out / name).read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None
doc = {"device": (out / "gpu_device.txt").read_text().strip(), "cuda_tests_exit_code": rc,
       "cuda_tests_tail": (out / "gpu_tests.log").read_text().strip().splitlines()[-1:],
       "pretrain": last("gpu_pretrain.log"), "sampler": last("gpu_sampler.log"), "rl_step": last("gpu_rl_step.log")}
(out / "gpu.json").write_text(json.dumps(doc, indent=2))
print(json.dumps(doc))
PY
