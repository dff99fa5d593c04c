#!/usr/bin/env bash
# compare_matmul.sh: patchgrad's gemm against OpenBLAS sgemm, measured in one run, on 1 and 2 threads.
#
# usage: make bench, or tests/bench/compare_matmul.sh (env: REPS=3 THREADS="1 2" SHARED=../shared
#        BENCH_MATMUL=build/bench_matmul)
#
# For every shape it runs tests/bench/bench_matmul (patchgrad) and $SHARED/bench/sgemm_ref.sh (OpenBLAS)
# back to back, REPS times, and prints the median GFLOP/s of each and their ratio. Both programs time
# the same operand values the same way (best of 5 timed batches of ~2e10 flop).
#   nn      C = A @ B, the forward                   vs OpenBLAS NoTrans/NoTrans
#   tn, nt  A^T @ B and A @ B^T, the backward's      vs OpenBLAS NoTrans/NoTrans at the same (M, N, K)
#   batch512  512 products through gemm_batched     (no OpenBLAS peer in sgemm_ref: patchgrad only)
# The shared folder is ${SHARED:-../shared}, relative to the repository root (this script's dir/../..).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared_arg=${SHARED:-../shared}
if ! shared=$(cd "$root" && cd "$shared_arg" 2>/dev/null && pwd) || [ ! -f "$shared/bench/sgemm_ref.sh" ]; then
  echo "compare_matmul.sh: cannot find the shared bench folder: '$shared_arg' (relative to $root) has no bench/sgemm_ref.sh;" >&2
  echo "  set SHARED=/path/to/shared (the folder holding bench/sgemm_ref.sh)" >&2
  exit 1
fi
reps=${REPS:-3}
threads_list=${THREADS:-"1 2"}

bin=${BENCH_MATMUL:-$root/build/bench_matmul}  # built by `make bench`
if [ ! -x "$bin" ]; then
  echo "compare_matmul.sh: $bin is missing; run 'make bench', which builds it and runs this script" >&2
  exit 1
fi

# case M N K
rows=(
  "nn 256 256 256" "nn 512 512 512" "nn 1024 1024 1024"
  "nn 8320 384 128" "nn 8320 256 128" "nn 8320 128 256" "nn 65 65 32"
  "tn 8320 384 128" "tn 8320 256 128" "tn 8320 128 256"
  "nt 8320 384 128" "nt 8320 256 128" "nt 8320 128 256"
  "batch512 65 65 32" "batch512 65 32 65"
)

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "patchgrad gemm vs OpenBLAS sgemm, GFLOP/s, median of $reps runs each ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
printf '%-8s %-9s %-17s %10s %10s %7s\n' threads case "M x N x K" patchgrad openblas ratio
for threads in $threads_list; do
  for row in "${rows[@]}"; do
    read -r kind M N K <<<"$row"
    ours=() ref=()
    for ((r = 0; r < reps; r++)); do
      ours+=("$("$bin" "$threads" "$kind" "$M" "$N" "$K" | awk '{ print $5 }')")
      if [[ $kind != batch* ]]; then
        ref+=("$(bash "$shared/bench/sgemm_ref.sh" "$threads" "$M" "$N" "$K" | awk '{ print $4 }')")
      fi
    done
    o=$(printf '%s\n' "${ours[@]}" | median)
    if [ ${#ref[@]} -gt 0 ]; then
      b=$(printf '%s\n' "${ref[@]}" | median)
      ratio=$(awk -v o="$o" -v b="$b" 'BEGIN { printf "%.2f", o / b }')
    else
      b="-" ratio="-"
    fi
    printf '%-8s %-9s %-17s %10s %10s %7s\n' "$threads" "$kind" "${M}x${N}x${K}" "$o" "$b" "$ratio"
  done
done
