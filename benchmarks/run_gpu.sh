#!/usr/bin/env bash
# The GPU check in one bounded command (a few minutes on an H100/H200; see docs/performance.md).
#
# On the GPU machine, from the repo root:
#     bash benchmarks/run_gpu.sh
# A GPU machine without network access needs a wheel bundle in .device-bundle/ (git-ignored;
# GP_BUNDLE names another folder): wheels/*.whl for CPython and the machine's platform, with
# at least pydantic, pydantic_core, annotated_types and typing_inspection, and pytest,
# iniconfig, packaging and pygments for the tests (or have them installed already), plus an
# install.sh that installs every wheel of the bundle, for GP_BUNDLE_ALL=1.
# A check of this script on a CPU (tiny sizes; uses the given Python as it is):
#     GP_BENCH_SMOKE=1 PYTHON=.venv/bin/python bash benchmarks/run_gpu.sh
#
# It installs what it needs from the bundle into $GP_SITE (default /tmp/site): pydantic, and
# pytest for the tests (all of the bundle, Ray and MLflow too, with GP_BUNDLE_ALL=1: the GPU
# benchmark needs neither); makes gp's plugin entry points visible (a dist-info written from
# pyproject.toml, no build); runs the CUDA-graph tests (tests/test_graph.py -m gpu) and
# benchmarks/gpu.py (GP_BENCH_BUDGET seconds, default 210), and prints their tables last.
# Logs and gpu.json go to $OUT when it is set.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
PY=${PYTHON:-python3}
SITE=${GP_SITE:-/tmp/site}
BUNDLE=${GP_BUNDLE:-.device-bundle}
LOGS=${OUT:-/tmp/gp-gpu-logs}
mkdir -p "$SITE" "$LOGS"
export PYTHONPATH="$SITE:$PWD/platform:$PWD/plugins${PYTHONPATH:+:$PYTHONPATH}"

has() { "$PY" -c "import $1" 2>/dev/null; }
wheels() {  # install the bundle's wheels of these distributions (names as in the file names)
  local files=() p f
  for p in "$@"; do
    for f in "$BUNDLE"/wheels/"$p"-*.whl; do [ -f "$f" ] && files+=("$f"); done
  done
  [ ${#files[@]} -gt 0 ] || { echo "bundle: no wheels for $*"; return 0; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "${files[@]}" 2>&1 | grep -v -i -e warning -e '^$' | tail -3
}

echo "== setup"
if [ "${GP_BUNDLE_ALL:-0}" = 1 ] && [ -d "$BUNDLE" ]; then
  bash "$BUNDLE/install.sh" "$BUNDLE" | tail -1
fi
has pydantic || wheels pydantic pydantic_core annotated_types typing_inspection
has pytest || wheels pytest iniconfig packaging pygments
"$PY" - "$SITE" <<'EOF'
# gp's plugins are found through entry points: write a dist-info for them unless installed.
import importlib.metadata as md, pathlib, sys, tomllib
if list(md.entry_points(group="gp")):
    sys.exit(0)
eps = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]["entry-points"]["gp"]
d = pathlib.Path(sys.argv[1]) / "gp-0.1.0.dist-info"
d.mkdir(parents=True, exist_ok=True)
(d / "METADATA").write_text("Metadata-Version: 2.1\nName: gp\nVersion: 0.1.0\n")
(d / "entry_points.txt").write_text("[gp]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
print(f"gp: {len(eps)} entry points in {d}")
EOF
"$PY" -c "import torch, pydantic; c = torch.cuda.is_available(); print('torch', torch.__version__, '| pydantic', pydantic.VERSION, '|', torch.cuda.get_device_name() if c else 'no CUDA device')"
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu,clocks.sm --format=csv,noheader 2>/dev/null
echo "setup: $((SECONDS - start)) s"

echo "== CUDA-graph tests (pytest -m gpu tests/test_graph.py)"
if has pytest; then
  timeout 150 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/test_graph.py >"$LOGS/gpu-tests.txt" 2>&1
  echo "pytest exit $?"
  grep -E "passed|failed|error|skipped|Error|assert" "$LOGS/gpu-tests.txt" | tail -12
else
  echo "pytest is missing: tests skipped"
fi

echo "== benchmark (benchmarks/gpu.py)"
GP_BENCH_BUDGET=${GP_BENCH_BUDGET:-210} timeout 330 "$PY" benchmarks/gpu.py >"$LOGS/gpu-bench.txt" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  echo "gpu.py exit $rc; its last lines:"
  tail -40 "$LOGS/gpu-bench.txt"
fi
sed -n '/^GPU benchmark on/,$p' "$LOGS/gpu-bench.txt"
echo "total: $((SECONDS - start)) s; logs in $LOGS"
