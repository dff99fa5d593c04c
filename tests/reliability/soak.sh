#!/usr/bin/env bash
# Memory soak (docs/reliability.md): 30 short epochs of a small ViT (960 steps, 30 evaluations, 60
# checkpoint saves), then the peak resident memory that metrics.csv records after each epoch
# (peak_rss_mb) must stop growing: from the end of epoch 2 (the data loaded, every buffer of a step
# allocated once) to the end of epoch 30, by less than 2%. A graph, a batch or a buffer kept by mistake
# on every step would grow it by megabytes per epoch. `make reliability` runs it; about 20 seconds.
cd "$(dirname "$0")/../.." || exit 1
source tests/reliability/common.sh

# Small generated files rather than data/mnist: loading the 47 MB of MNIST's training images briefly
# needs twice that, a peak that would hide a slow leak in training beneath it.
DATA=$WORK/soak_data
write_random_mnist "$DATA" train 1024
write_random_mnist "$DATA" t10k 200
run=$WORK/soak
"$PATCHGRAD" train --dataset mnist --data "$DATA" --limit 1024 --test-limit 200 --batch-size 32 --dim 32 \
    --depth 2 --heads 2 --mlp-dim 64 --patch 4 --threads 1 --epochs 30 --out "$run" > "$run.out" 2> "$run.err"
code=$?
check "soak: 30 epochs trained (exit code $code)" [ $code -eq 0 ]

# The peak_rss_mb column, found by name, one value per epoch.
rss=($(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "peak_rss_mb") column = i; next }
                column { print $column }' "$run/metrics.csv"))
check "soak: metrics.csv has a peak_rss_mb value for each of the 30 epochs (${#rss[@]})" [ ${#rss[@]} -eq 30 ]
if [ ${#rss[@]} -eq 30 ]; then
    echo "      (peak RSS after epochs 1, 2, 10, 20, 30: ${rss[0]}, ${rss[1]}, ${rss[9]}, ${rss[19]}, ${rss[29]} MB)"
    growth=$(awk -v a="${rss[1]}" -v b="${rss[29]}" 'BEGIN { printf "%.2f", 100 * (b - a) / a }')
    check "soak: peak RSS grew by $growth% from epoch 2 to epoch 30 (limit 2%)" \
        awk -v g="$growth" 'BEGIN { exit !(g < 2) }'
fi
finish
