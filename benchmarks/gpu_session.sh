#!/usr/bin/env bash
# One prepared GPU run: the `medium` learning proof on the GPU machine, its results and log under $OUT.
#
# Why a script: the GPU machine (docs/STACK.md) has no package index and runs a command for at most 10 minutes.
# Everything is decided beforehand; the run is one call that leaves what it finished under $OUT, even when it is
# stopped at its budget. Beforehand, where PyPI is reachable: .venv/bin/python benchmarks/gpu_wheels.py
# Then on the GPU machine, from the repository root with gpu_wheels/ beside it:  bash benchmarks/gpu_session.sh
#
# Files in $OUT (8 at most come back): machine.txt, gpu_usage.csv (utilisation and memory every 5 s), learning.json,
# learning.md, proof.log, and seeds.tar.gz: each seed's report.json and answers.json, or, for a seed the budget stopped
# during HPL, its SFT part (report_sft.json, answers_sft.json).
# Knobs (environment): OUT (default benchmarks/results/gpu_session), BUDGET_S (seconds the proof may run, default 540),
# PYTHON (default python3), PROOF_ARGS (default: the medium proof, both seeds at once, sized by the H200 figures in
# benchmarks/GPU.md to end within one 10-minute call: SFT cut to 400 steps, HPL to 2, which time HPL's step on the
# GPU but are no HPL test; "--quick" checks the script on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu_session}
BUDGET_S=${BUDGET_S:-540}
PYTHON=${PYTHON:-python3}
PROOF_ARGS=${PROOF_ARGS:---preset medium --device cuda --eval-batch 512 --parallel 2 --cpu-threads 4 --sft-steps 400 --hpl-steps 2}
WORK=${WORK:-/tmp/hieroaction_proof}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if compgen -G "gpu_wheels/*.whl" >/dev/null; then
  "$PYTHON" -m pip install --quiet --no-deps --target /tmp/gpu_site gpu_wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/gpu_site:.${PYTHONPATH:+:$PYTHONPATH}
else
  echo "gpu_session: no gpu_wheels/*.whl, using $PYTHON's own packages"
fi
{
  date -u +"date %Y-%m-%dT%H:%M:%SZ"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c "import torch, transformers, trl; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__)"
} > "$OUT/machine.txt" 2>&1 || { cat "$OUT/machine.txt"; exit 1; }
cat "$OUT/machine.txt"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$OUT/gpu_usage.csv" 2>&1 &
  usage_pid=$!
fi

# SIGINT first (Python unwinds, finished seeds stay on disk), SIGKILL 20 s later.
# shellcheck disable=SC2086
timeout -s INT -k 20 "$BUDGET_S" "$PYTHON" benchmarks/learning_proof.py $PROOF_ARGS --work "$WORK" \
  --json "$OUT/learning.json" --out "$OUT/learning.md" 2>&1 | tee "$OUT/proof.log" | grep -v "it/s]" | tail -n 200
rc=${PIPESTATUS[0]}
[ -n "${usage_pid:-}" ] && kill "$usage_pid" 2>/dev/null
# Each seed's report and per-dive answers, written as soon as that seed (or its SFT part) ended: kept when the budget
# stops a later stage. One archive: $OUT brings back at most 8 files.
(cd "$WORK" && ls seed*/report*.json seed*/answers*.json 2>/dev/null | tar -czf - -T -) > "$OUT/seeds.tar.gz"
tar -tzf "$OUT/seeds.tar.gz" | tr '\n' ' '; echo
echo "gpu_session: learning_proof exit code $rc; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit "$rc"
