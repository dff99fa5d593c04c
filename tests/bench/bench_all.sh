#!/usr/bin/env bash
# bench_all.sh: patchgrad next to its peers, OpenBLAS and PyTorch 1.13 CPU, in one table (`make bench`;
# docs/performance.md, "How to measure").
#
# usage: make bench            or   bash tests/bench/bench_all.sh   (after building the two programs)
#   env: SHARED=../shared      the folder holding bench/sgemm_ref.sh and bench/torch_ref.py (relative to
#                              the repository root)
#        THREADS="1 2"         thread counts for matmul and models; the layers run on the last of them
#        REPS=3                back-to-back pairs per figure (QUICK=1 makes it 1)
#        QUICK=1               a smoke run: a few matmul shapes, 1-3 timed steps, REPS=1; numbers are rough
#        PATCHGRAD=build/patchgrad  BENCH_MATMUL=build/bench_matmul  TORCH_PYTHON=/usr/bin/python3
#        AVX2_PATCHGRAD=build/x86-64-v3/patchgrad  AVX2_BENCH_MATMUL=build/x86-64-v3/bench_matmul
#                              the same programs built for AVX2 alone (make ARCH=x86-64-v3), the laptop's
#                              instruction set: when given (make bench does on x86-64), the matmul and model
#                              rows are run for that build too, labelled "avx2", against the same peers held
#                              to AVX2 as well (below)
#
# What is measured, and how. Every figure is the median over REPS repetitions, each repetition running
# patchgrad and then its peer back to back on the same shapes (the machine is shared and noisy: a ratio
# taken in one run means more than an absolute figure). Ratio > 1 means patchgrad is ahead.
#   peak    this machine's FMA peak, GFLOP/s, on each of THREADS: `patchgrad bench --peak` (core/fma_peak.h),
#           no peer. Every "of peak" note below divides a rate of matrix products by the peak at its
#           thread count (docs/performance.md, "The distance to the peak").
#   matmul  GFLOP/s of C = A @ B (nn), A^T @ B (tn), A @ B^T (nt) at square and tiny-ViT shapes:
#           build/bench_matmul vs $SHARED/bench/sgemm_ref.sh (OpenBLAS cblas_sgemm), on each of THREADS.
#           ratio = patchgrad / OpenBLAS. batch512 (attention's 512 small products) has no peer.
#   layers  milliseconds of the forward and of the backward of each layer of one block at batch 128:
#           `patchgrad bench --layers` vs tests/bench/torch_layers.py (same shapes; what is timed is
#           written at the top of both). ratio = PyTorch time / patchgrad time. The backward row's note:
#           the layer's product flops (forward and backward) per second and their fraction of the peak.
#   models  training step (forward + backward + AdamW) and inference images/s, and peak RSS, of the
#           reference tiny ViT and Swin at batch 128 on random input: `patchgrad bench` on each of THREADS
#           vs $SHARED/bench/torch_ref.py (torchvision's own models) on each of THREADS, of which the best
#           is kept (the fastest for img/s; for RSS the setting that trained fastest). ratio = patchgrad /
#           PyTorch for img/s, PyTorch / patchgrad for RSS. Also patchgrad's 1 -> 2 thread speed-up, and
#           the flops of its matrix products per second (a training step's counted as 3x the forward's)
#           with their fraction of the peak.
#   targets the goals of docs/performance.md, each read off the rows above, with "met" or "NOT met":
#           models 3.0x PyTorch's best at 2 threads (AVX2 build: 2.0x), peak RSS at most 0.5x PyTorch's,
#           1 -> 2 threads at least 1.8x, matmul 1.0x OpenBLAS at 1024^3 and within 15% (0.85x) at every
#           tiny-ViT shape, on each of THREADS, for each build.
# PyTorch runs as $SHARED/bench/torch_ref.sh runs it: torch.set_num_threads(T), OPENBLAS_NUM_THREADS=1.
# The peers of the avx2 rows are held to AVX2 too, as they would be on a laptop without AVX-512: OpenBLAS
# with its Haswell kernels (OPENBLAS_CORETYPE=Haswell: $SHARED/bench/sgemm_ref.c, built here, since
# sgemm_ref.sh clears that variable), PyTorch with the same OpenBLAS and oneDNN held to AVX2
# (ONEDNN_MAX_CPU_ISA=AVX2). On a CPU whose cores run two 512-bit FMAs a cycle, the peers' own AVX-512
# kernels have twice an AVX2 build's peak, which is a comparison of instruction sets, not of code.
# A missing peer (no SHARED folder, no python3-torch) leaves its column at "-" and says so; exit 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared_arg=${SHARED:-../shared}
shared=$(cd "$root" && cd "$shared_arg" 2>/dev/null && pwd) || shared=""
threads_list=${THREADS:-"1 2"}
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then reps=${REPS:-1}; else reps=${REPS:-3}; fi
patchgrad=${PATCHGRAD:-$root/build/patchgrad}
bench_matmul=${BENCH_MATMUL:-$root/build/bench_matmul}
avx2_patchgrad=${AVX2_PATCHGRAD:-}
avx2_bench_matmul=${AVX2_BENCH_MATMUL:-}
torch_python=${TORCH_PYTHON:-/usr/bin/python3}
batch=128
layer_threads=${threads_list##* }
if [ "$quick" = 1 ]; then
  model_steps=(--steps 2 --warmup 1) layer_steps=(--steps 3 --warmup 1)
else
  model_steps=(--steps 12 --warmup 3) layer_steps=(--steps 12 --warmup 3)
fi
for program in "$patchgrad" "$bench_matmul" $avx2_patchgrad $avx2_bench_matmul; do
  [ -x "$program" ] || { echo "bench_all.sh: $program is missing; run 'make bench', which builds it" >&2; exit 1; }
done
# The builds to measure: "native" (the programs above) and, when both AVX2 programs are given, "avx2".
builds=(native)
[ -n "$avx2_patchgrad" ] && [ -n "$avx2_bench_matmul" ] && builds+=(avx2)
program_of() { if [ "$1" = avx2 ]; then echo "$avx2_patchgrad"; else echo "$patchgrad"; fi; }
matmul_program_of() { if [ "$1" = avx2 ]; then echo "$avx2_bench_matmul"; else echo "$bench_matmul"; fi; }
# A row's item with its build named, for every build but the native one: "vit train" -> "avx2 vit train".
labelled() { if [ "$1" = avx2 ]; then echo "avx2 $2"; else echo "$2"; fi; }
declare -A measured  # what the targets section reads: "models vit train native 2" -> ratio, ...
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the peers: which are here --------------------------------------------------------------------------
have_openblas=0 have_torch=0 have_torch_models=0
openblas_note="OpenBLAS missing: no bench/sgemm_ref.sh in SHARED=$shared_arg"
torch_note="PyTorch missing: $torch_python cannot import torch (Debian: apt-get install python3-torch)"
torch_models_note="$torch_note"
if [ -n "$shared" ] && [ -f "$shared/bench/sgemm_ref.sh" ]; then
  have_openblas=1 openblas_note="OpenBLAS cblas_sgemm ($shared/bench/sgemm_ref.sh)"
  if [[ " ${builds[*]} " == *" avx2 "* ]]; then
    bash "$shared/bench/sgemm_ref.sh" 1 8 8 8 >/dev/null  # installs OpenBLAS if it is missing
    gcc -O2 -o "$tmp/sgemm_ref" "$shared/bench/sgemm_ref.c" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
      -lopenblas 2>/dev/null ||
      echo "bench_all.sh: could not build $shared/bench/sgemm_ref.c; the avx2 matmul rows get no peer" >&2
    openblas_note="$openblas_note (avx2 rows: OPENBLAS_CORETYPE=Haswell)"
  fi
fi
if torch_version=$("$torch_python" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
  have_torch=1 torch_note="PyTorch $torch_version CPU ($torch_python)"
  if [ -z "$shared" ] || [ ! -f "$shared/bench/torch_ref.py" ]; then
    torch_models_note="PyTorch models missing: no bench/torch_ref.py in SHARED=$shared_arg"
  elif ! "$torch_python" -c 'import torchvision' >/dev/null 2>&1; then
    torch_models_note="PyTorch models missing: $torch_python cannot import torchvision"
  else
    have_torch_models=1 torch_models_note="$torch_note, torchvision's models ($shared/bench/torch_ref.py)"
    if [[ " ${builds[*]} " == *" avx2 "* ]]; then torch_models_note="$torch_models_note (avx2 rows: held to AVX2)"; fi
  fi
fi

# ---- small helpers --------------------------------------------------------------------------------------
# The value of KEY in key=value lines on stdin, one per line.
field() { { grep -o "\(^\| \)$1=[^ ]*" || true; } | sed 's/.*=//'; }
# The median of the numbers on stdin ("-" when there are none).
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# a / b to two decimals, "-" when either is missing or b is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# The note "0.62 of peak" for a rate of $1 GFLOP/s on $2 threads of build $3 (native when not given: each
# build is held against the peak of its own vector width); empty when either is unknown.
of_peak() {
  local fraction
  fraction=$(ratio "$1" "${peak_gflop_s[${3:-native} $2]:--}")
  [ "$fraction" != - ] && echo "$fraction of peak"
  return 0
}
# PyTorch as torch_ref.sh runs it: its own threads, OpenBLAS's kept at 1.
run_torch() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$torch_python" "$@"; }
# PyTorch as the peer of build $1 (native or avx2), running the rest of the arguments.
torch_of() {
  local build=$1
  shift
  if [ "$build" = avx2 ]; then
    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_NUM_THREADS=1 "$torch_python" "$@"
  else
    run_torch "$@"
  fi
}
# OpenBLAS as the peer of build $1 (native or avx2): "M N K gflops" for threads $2 and shape $3 $4 $5.
openblas_of() {
  if [ "$1" = avx2 ]; then
    [ -x "$tmp/sgemm_ref" ] || return 0  # no figure: the row's peer column stays "-"
    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS="$2" "$tmp/sgemm_ref" "$3" "$4" "$5"
  else
    bash "$shared/bench/sgemm_ref.sh" "$2" "$3" "$4" "$5"
  fi
}

row_format='%-7s %-40s %3s %-8s %10s %10s %7s  %s\n'
row() { printf "$row_format" "$@" | sed 's/ *$//'; }
section_title() { echo; echo "-- $*"; }

# ---- the FMA peak ---------------------------------------------------------------------------------------
declare -A peak_gflop_s  # "build threads" -> this machine's FMA peak at that build's vector width, GFLOP/s
peak_section() {
  section_title "peak: this machine's FMA peak (patchgrad bench --peak, core/fma_peak.h); GFLOP/s, no peer"
  local build threads r line values bits chains
  for build in "${builds[@]}"; do
    for threads in $threads_list; do
      values=()
      for ((r = 0; r < reps; r++)); do
        line=$("$(program_of "$build")" bench --peak --threads "$threads")
        values+=("$(field peak_gflop_s <<<"$line")")
      done
      bits=$(field vector_bits <<<"$line") chains=$(field chains <<<"$line")
      peak_gflop_s[$build $threads]=$(printf '%s\n' "${values[@]}" | median)
      row peak "$(labelled "$build" "fma ${bits}-bit, $chains chains a thread")" "$threads" GFLOP/s \
        "${peak_gflop_s[$build $threads]}" - - ""
    done
  done
}

# ---- (a) matmul -----------------------------------------------------------------------------------------
matmul_section() {
  local shapes=(
    "nn 256 256 256" "nn 512 512 512" "nn 1024 1024 1024"
    "nn 8320 384 128" "nn 8320 256 128" "nn 8320 128 256" "nn 65 65 32"
    "tn 8320 384 128" "tn 8320 256 128" "tn 8320 128 256"
    "nt 8320 384 128" "nt 8320 256 128" "nt 8320 128 256"
    "batch512 65 65 32" "batch512 65 32 65"
  )
  [ "$quick" = 1 ] && shapes=("nn 512 512 512" "nn 8320 384 128" "tn 8320 384 128" "nt 8320 384 128" "batch512 65 65 32")
  section_title "matmul: patchgrad gemm vs ${openblas_note}; GFLOP/s, ratio = patchgrad / OpenBLAS"
  local threads shape kind M N K r o p build
  local -A ours peer
  for threads in $threads_list; do
    for shape in "${shapes[@]}"; do
      read -r kind M N K <<<"$shape"
      ours=() peer=()
      for ((r = 0; r < reps; r++)); do
        for build in "${builds[@]}"; do  # each build, then its peer, back to back
          ours[$build]+="$("$(matmul_program_of "$build")" "$threads" "$kind" "$M" "$N" "$K" | awk '{ print $5 }') "
          if [ $have_openblas = 1 ] && [[ $kind != batch* ]]; then
            peer[$build]+="$(openblas_of "$build" "$threads" "$M" "$N" "$K" | awk '{ print $4 }') "
          fi
        done
      done
      for build in "${builds[@]}"; do
        o=$(printf '%s\n' ${ours[$build]} | median)
        p=$(printf '%s\n' ${peer[$build]:-} | { grep . || true; } | median)
        measured["matmul $kind ${M}x${N}x${K} $build $threads"]=$(ratio "$o" "$p")
        row matmul "$(labelled "$build" "$kind ${M}x${N}x${K}")" "$threads" GFLOP/s "$o" "$p" "$(ratio "$o" "$p")" \
          "$(of_peak "$o" "$threads" "$build")"
      done
    done
  done
}

# ---- (b) per-layer forward and backward ----------------------------------------------------------------
layers_section() {
  local threads=$layer_threads model r layer pass o p shapes peer_shapes rate note
  section_title "layers: one block at batch $batch, $threads threads, patchgrad vs ${torch_note};" \
    "ms, ratio = PyTorch / patchgrad"
  for model in vit swin; do
    local ours=$tmp/layers_$model.patchgrad peer=$tmp/layers_$model.torch
    : >"$ours"
    : >"$peer"
    for ((r = 0; r < reps; r++)); do
      "$patchgrad" bench --model "$model" --layers --batch "$batch" --threads "$threads" "${layer_steps[@]}" >>"$ours"
      if [ $have_torch = 1 ]; then
        run_torch "$root/tests/bench/torch_layers.py" --model "$model" --batch "$batch" --threads "$threads" \
          "${layer_steps[@]}" >>"$peer"
      fi
    done
    for layer in $(field layer <"$ours" | awk '!seen[$0]++'); do  # in the order patchgrad printed them
      shapes=$(grep " layer=$layer " "$ours" | head -n 1 | awk '{ print $5, $6 }')
      peer_shapes=$(grep " layer=$layer " "$peer" | head -n 1 | awk '{ print $5, $6 }' || true)
      if [ -n "$peer_shapes" ] && [ "$peer_shapes" != "$shapes" ]; then
        echo "bench_all.sh: $model $layer: patchgrad has $shapes but PyTorch $peer_shapes" >&2
      fi
      # the rate of the layer's products, forward and backward together ("-" for a memory-bound layer)
      rate=$(grep " layer=$layer " "$ours" | field gflop_s | { grep -v '^-$' || true; } | median)
      if [ "$rate" = - ]; then
        note="no products"
      else
        note="fwd+bwd $rate GFLOP/s, $(of_peak "$rate" "$threads")"
      fi
      for pass in fwd bwd; do
        o=$(grep " layer=$layer " "$ours" | field "${pass}_ms" | median)
        p=$( { grep " layer=$layer " "$peer" || true; } | field "${pass}_ms" | median)
        row layers "$model $layer $pass" "$threads" ms "$o" "$p" "$(ratio "$p" "$o")" \
          "$([ $pass = fwd ] && echo "$shapes" || echo "$note")"
      done
    done
  done
}

# ---- (c) whole models ----------------------------------------------------------------------------------
# The median of KEY over the lines of FILE whose threads=T.
model_median() { { grep " threads=$3 " "$1" || true; } | field "$2" | median; }

models_section() {
  section_title "models: batch $batch, patchgrad vs ${torch_models_note};" \
    "img/s ratio = patchgrad / PyTorch best, RSS ratio = PyTorch / patchgrad"
  local model r t metric o p best_t first_t last_t candidate note build peer_name
  first_t=${threads_list%% *} last_t=$layer_threads
  for model in vit swin; do
    # build b's figures in models_$model.b, its peer's in models_$model.torch_b
    local ours=$tmp/models_$model.native peer=$tmp/models_$model.torch_native
    for build in "${builds[@]}"; do : >"$tmp/models_$model.$build"; : >"$tmp/models_$model.torch_$build"; done
    for ((r = 0; r < reps; r++)); do
      for t in $threads_list; do
        for build in "${builds[@]}"; do  # each build, then its peer, back to back
          "$(program_of "$build")" bench --model "$model" --batch "$batch" --threads "$t" "${model_steps[@]}" \
            >>"$tmp/models_$model.$build"
          if [ $have_torch_models = 1 ]; then
            torch_of "$build" "$shared/bench/torch_ref.py" --model "$model" --batch "$batch" --threads "$t" \
              "${model_steps[@]}" >>"$tmp/models_$model.torch_$build"
          fi
        done
      done
    done
    # PyTorch's best setting: the thread count with the fastest training step.
    best_t=-
    for t in $threads_list; do
      p=$(model_median "$peer" train_img_s "$t")
      [ "$p" = - ] && continue
      if [ "$best_t" = - ] || awk -v a="$p" -v b="$(model_median "$peer" train_img_s "$best_t")" 'BEGIN { exit !(a > b) }'; then
        best_t=$t
      fi
    done
    for metric in train_img_s infer_img_s; do
      for build in "${builds[@]}"; do
        p=- peer_name=PyTorch
        if [ "$build" = avx2 ]; then peer_name="PyTorch held to AVX2"; fi
        for t in $threads_list; do  # the best of PyTorch's settings for this figure
          candidate=$(model_median "$tmp/models_$model.torch_$build" "$metric" "$t")
          if [ "$candidate" != - ] && { [ "$p" = - ] || awk -v a="$candidate" -v b="$p" 'BEGIN { exit !(a > b) }'; }; then
            p=$candidate note="$peer_name best: threads=$t"
          fi
        done
        [ "$p" = - ] && note=""
        for t in $threads_list; do
          o=$(model_median "$tmp/models_$model.$build" "$metric" "$t")
          measured["models $model ${metric%_img_s} $build $t"]=$(ratio "$o" "$p")
          row models "$(labelled "$build" "$model ${metric%_img_s}")" "$t" img/s "$o" "$p" "$(ratio "$o" "$p")" "$note"
        done
      done
      if [ "$first_t" != "$last_t" ]; then
        o=$(ratio "$(model_median "$ours" "$metric" "$last_t")" "$(model_median "$ours" "$metric" "$first_t")")
        p=$(ratio "$(model_median "$peer" "$metric" "$last_t")" "$(model_median "$peer" "$metric" "$first_t")")
        measured["speed-up $model ${metric%_img_s}"]=$o
        row models "$model ${metric%_img_s} speed-up $first_t->$last_t threads" - x "$o" "$p" - \
          "$([ "$p" != - ] && echo "peer: PyTorch's own")"
      fi
      for t in $threads_list; do  # the same steps as flops of their products per second
        o=$(model_median "$ours" "${metric%_img_s}_gflop_s" "$t")
        row models "$model ${metric%_img_s} products" "$t" GFLOP/s "$o" - - "$(of_peak "$o" "$t")"
      done
    done
    p=-
    [ "$best_t" != - ] && p=$(model_median "$peer" peak_rss_mb "$best_t")
    for t in $threads_list; do
      o=$(model_median "$ours" peak_rss_mb "$t")
      measured["rss $model $t"]=$(ratio "$p" "$o")
      row models "$model peak RSS" "$t" MB "$o" "$p" "$(ratio "$p" "$o")" \
        "$([ "$best_t" != - ] && echo "PyTorch at threads=$best_t")"
    done
  done
}

# ---- (d) the targets ----------------------------------------------------------------------------------
# One row per goal: the figure read off the rows above, the goal, and whether it is met ("-": no figure,
# e.g. a missing peer). A ratio's goal is a floor: met when ratio >= goal.
targets_section() {
  section_title "targets: each goal of docs/performance.md, read off the rows above"
  local build model metric t shape value goal worst worst_shape
  target_row() {  # item threads value goal
    local verdict=-
    if [ "$3" != - ]; then
      verdict=$(awk -v a="$3" -v g="$4" 'BEGIN { print (a + 0 >= g + 0) ? "met" : "NOT met" }')
    fi
    row target "$1" "$2" x "$3" ">= $4" - "$verdict"
  }
  for build in "${builds[@]}"; do
    goal=3.0
    [ "$build" = avx2 ] && goal=2.0
    for model in vit swin; do
      for metric in train infer; do
        target_row "$(labelled "$build" "$model $metric vs PyTorch")" "$layer_threads" \
          "${measured["models $model $metric $build $layer_threads"]:--}" "$goal"
      done
    done
  done
  for model in vit swin; do
    target_row "$model peak RSS, PyTorch / patchgrad" "$layer_threads" "${measured["rss $model $layer_threads"]:--}" 2.0
    target_row "$model train speed-up ${threads_list%% *} -> $layer_threads threads" - \
      "${measured["speed-up $model train"]:--}" 1.8
  done
  for build in "${builds[@]}"; do
    for t in $threads_list; do
      target_row "$(labelled "$build" "matmul 1024^3 vs OpenBLAS")" "$t" \
        "${measured["matmul nn 1024x1024x1024 $build $t"]:--}" 1.0
      worst=- worst_shape=""
      for shape in "${!measured[@]}"; do  # the tiny-ViT shapes: every matmul row with 8320 or 65 in it
        [[ $shape == "matmul "*" $build $t" ]] || continue
        [[ $shape == *8320* || $shape == *"65x65x32"* ]] || continue
        value=${measured[$shape]}
        [ "$value" = - ] && continue
        if [ "$worst" = - ] || awk -v a="$value" -v b="$worst" 'BEGIN { exit !(a < b) }'; then
          worst=$value worst_shape=$(awk '{ print $2, $3 }' <<<"$shape")
        fi
      done
      target_row "$(labelled "$build" "matmul tiny-ViT worst: $worst_shape")" "$t" "$worst" 0.85
    done
  done
}

# ---- the table ------------------------------------------------------------------------------------------
echo "patchgrad vs its peers: medians of $reps back-to-back run(s) each$([ "$quick" = 1 ] && echo ", QUICK (rough)")," \
  "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "ratio > 1: patchgrad ahead (faster, or less memory); '-': no peer figure"
printf '%s\n' "$openblas_note" "$torch_note" "$torch_models_note" | grep missing | sort -u || true
echo
row section item thr unit patchgrad peer ratio note
peak_section
matmul_section
layers_section
models_section
targets_section
