#!/usr/bin/env bash
# The CUDA checks of skcosae in one run: the CUDA tests, then the training-speed tables of
# benchmarks/README.md ("bench_train on CUDA"). About 7 minutes on one H200; every part has
# its own time limit and the run goes on after a failed part.
#
#   bash benchmarks/cuda_check.sh [OUT_DIR]       # from the repository root
#
# Writes OUT_DIR/tests.log, OUT_DIR/bench_m8192.log, OUT_DIR/bench_m32768.log,
# OUT_DIR/bench_paper.log, OUT_DIR/precision.log and OUT_DIR/summary.log (default OUT_DIR: $OUT, else /tmp/cuda_check).
#
# overcomplete 0.3.0 (the peer of the tables) is no dependency; on a machine without
# network, carry its wheel (pure Python) in .whl/ and it is installed into /tmp/site:
#   python -m pip download --no-deps overcomplete==0.3.0 -d .whl    # where pip works
# einops, its one light dependency, must be importable there too.
set -u
OUT_DIR=${1:-${OUT:-/tmp/cuda_check}}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ls .whl/overcomplete-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
        .whl/overcomplete-*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
SUMMARY="$OUT_DIR/summary.log"
: >"$SUMMARY"

part() {  # part NAME SECONDS COMMAND...: run with a time limit, log, note the outcome
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    echo "== $name (limit ${limit}s): $*" | tee -a "$SUMMARY"
    timeout --signal=INT --kill-after=10 "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    local status=$?
    echo "   exit $status after $((SECONDS - start)) s" | tee -a "$SUMMARY"
    tail -n 40 "$OUT_DIR/$name.log" >>"$SUMMARY"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
    python3 -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name())"
    git log -1 --format='skcosae at %h %s' 2>/dev/null
} >>"$SUMMARY" 2>&1

# 1. The CUDA tests (fit on CUDA, pickle, unpickle with CUDA hidden; no host synchronisation
#    in a training step; the gather kernel against dense products; precisions), and the
#    data-parallel tests (nccl runs where there are 2 GPUs).
part tests 120 python3 -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py \
    tests/test_distributed.py

# 2. Issue 11's shapes: d=768, k=32, batch 4096, 1M rows, 2 views; rec alone and the CoSAE
#    recipe, bf16; at m=8192 also the same fits with dense products (the kernels' gain).
COMMON=(--device cuda --n 1000000 --d 768 --k 32 --batch-size 4096 --epochs 1 --repeats 1
        --warmup-rows 65536 --precision bf16 --losses rec cosae)
part bench_m8192 110 python3 benchmarks/bench_train.py "${COMMON[@]}" --m 8192 --dense-products
part bench_m32768 120 python3 benchmarks/bench_train.py "${COMMON[@]}" --m 32768

# 3. One epoch of the paper's shapes: 1.28M rows, views of 768, 768 and 1152, m=8192.
part bench_paper 100 python3 benchmarks/bench_train.py --device cuda --n 1280000 \
    --widths 768 768 1152 --m 8192 --k 32 --batch-size 4096 --epochs 1 --repeats 1 \
    --warmup-rows 65536 --precision bf16 --losses cosae

# 4. What the precisions do to accuracy: held-out R^2 of tf32 and bf16 fits against float32.
part precision 30 python3 benchmarks/bench_precision.py --device cuda \
    --precisions float32 tf32 bf16 --seeds 0

echo "total $SECONDS s" | tee -a "$SUMMARY"
