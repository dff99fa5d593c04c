#!/usr/bin/env bash
# Signals, SIGKILL and a full disk against `patchgrad train` (docs/reliability.md). `make reliability`
# runs it (not part of `make test`; about a minute). One PASS/FAIL line per check; exit 1 on any failure.
#
#   (a) SIGINT and SIGTERM mid-epoch: exit codes 130 and 143, last.safetensors saved, --resume finishes
#   (b) SIGKILL at 20 random moments of a run whose epochs are a few milliseconds long (so many kills
#       land inside a checkpoint save): after each, last.safetensors and best.safetensors, when present,
#       load (`patchgrad eval` succeeds), no temporary file carries a checkpoint's name, and the run resumes
#   (c) a full disk while saving (`ulimit -f`, smaller than a checkpoint): training names the file and
#       exits non-zero, the previous checkpoints are byte for byte unchanged, no temporary file is left
cd "$(dirname "$0")/../.." || exit 1
source tests/reliability/common.sh

# A tiny ViT on 28 x 28 images (patch 7: a 4 x 4 grid; about 3,500 parameters; a 51 KB checkpoint).
TINY=(--dataset mnist --data "$DATA" --batch-size 32 --dim 16 --depth 1 --heads 2 --mlp-dim 32 --patch 7
      --threads 1 --test-limit 100)
# A larger one whose epochs last a second or more, so that a signal lands mid-epoch.
SLOW=(--dataset mnist --data "$DATA" --limit 2048 --batch-size 32 --dim 32 --depth 2 --heads 2 --mlp-dim 64
      --patch 4 --threads 1 --test-limit 200)

# Waits (up to 60 s) until FILE shows a progress line of epoch 1 ("epoch 1/2  batch 13/64 ..."), so the run is mid-epoch.
wait_for_progress() {
    local file=$1 i
    for ((i = 0; i < 600; i++)); do
        grep -q "^epoch 1/[0-9]*  batch [0-9]*/" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

loads() { "$PATCHGRAD" eval --checkpoint "$1" --limit 50 > /dev/null 2>> "$WORK/eval_errors.txt"; }

# ---- (a) SIGINT and SIGTERM mid-epoch -------------------------------------------------------------------
for signal in INT TERM; do
    run=$WORK/signal_$signal
    expected=$([ $signal = INT ] && echo 130 || echo 143)
    "$PATCHGRAD" train "${SLOW[@]}" --epochs 2 --out "$run" > "$run.out" 2> "$run.err" &
    pid=$!
    wait_for_progress "$run.err"
    kill -s $signal $pid
    wait $pid
    code=$?
    check "SIG$signal mid-epoch: exit code $code, expected $expected" [ $code -eq $expected ]
    check "SIG$signal mid-epoch: the message says where it stopped and how to resume" \
        grep -q "interrupted by SIG$signal in epoch 1 after batch .*--resume $run/last.safetensors" "$run.err"
    check "SIG$signal mid-epoch: last.safetensors exists and loads" loads "$run/last.safetensors"
    "$PATCHGRAD" train --resume "$run/last.safetensors" > "$run.resumed.out" 2> "$run.resumed.err"
    code=$?
    check "SIG$signal mid-epoch: train --resume finishes the run (exit code $code)" \
        grep -q "^resuming $run/last.safetensors at epoch 1, batch [1-9]" "$run.resumed.out"
    check "SIG$signal mid-epoch: metrics.csv then has both epochs" [ "$(wc -l < "$run/metrics.csv")" -eq 3 ]
done

# ---- (b) SIGKILL at random moments --------------------------------------------------------------------
run=$WORK/kill
RANDOM=42  # the moments are random but the same on every run of the script
kills=0 loaded=0 absent=0 bad_names=0 bad_loads=0
for ((i = 0; i < 20; i++)); do
    if [ -f "$run/last.safetensors" ]; then
        "$PATCHGRAD" train --resume "$run/last.safetensors" --epochs 100000 > /dev/null 2>&1 &
    else
        "$PATCHGRAD" train "${TINY[@]}" --limit 256 --epochs 100000 --out "$run" > /dev/null 2>&1 &
    fi
    pid=$!
    sleep "0.$(printf %03d $((50 + RANDOM % 700)))"  # 0.05 .. 0.75 s: start-up, training, saves
    kill -s KILL $pid
    wait $pid 2> /dev/null
    kills=$((kills + 1))
    # Only last.safetensors and best.safetensors may carry the checkpoint suffix; an interrupted write
    # leaves NAME.tmp-PID-RANDOM, which nothing reads and the next start of the run removes.
    for file in "$run"/*.safetensors; do
        [ -e "$file" ] || continue
        case $(basename "$file") in
            last.safetensors | best.safetensors) ;;
            *) bad_names=$((bad_names + 1)) ;;
        esac
    done
    for name in last best; do
        if [ -f "$run/$name.safetensors" ]; then
            if loads "$run/$name.safetensors"; then loaded=$((loaded + 1)); else bad_loads=$((bad_loads + 1)); fi
        else
            absent=$((absent + 1))
        fi
    done
done
stale=$(find "$run" -name '*.tmp-*' | wc -l)
echo "      ($kills kills: $loaded checkpoints loaded, $absent not yet written; $stale temporary files of killed saves left)"
check "SIGKILL x$kills: every last/best.safetensors present loads ($bad_loads did not)" [ $bad_loads -eq 0 ]
check "SIGKILL x$kills: checkpoints were written and loaded" [ $loaded -ge 10 ]
check "SIGKILL x$kills: no other file is named *.safetensors" [ $bad_names -eq 0 ]
# The killed run goes on: resumed, it completes an epoch (its summary line) and stops cleanly on SIGINT.
"$PATCHGRAD" train --resume "$run/last.safetensors" > "$run.final.out" 2> /dev/null &
pid=$!
for ((i = 0; i < 300; i++)); do
    grep -q "^epoch [0-9]*/100000 " "$run.final.out" && break
    sleep 0.1
done
kill -s INT $pid
wait $pid
code=$?
check "SIGKILL x$kills: the killed run resumes, completes an epoch and stops on SIGINT (exit code $code)" \
    test $code -eq 130 -a -n "$(grep "^epoch [0-9]*/100000 " "$run.final.out")"
check "SIGKILL x$kills: the resumed run removed the temporary files of killed saves" \
    [ -z "$(find "$run" -name '*.tmp-*')" ]

# ---- (c) a full disk while saving ------------------------------------------------------------------------
run=$WORK/disk
"$PATCHGRAD" train "${TINY[@]}" --limit 256 --epochs 1 --out "$run" > /dev/null 2>&1
before=$(cd "$run" && sha256sum last.safetensors best.safetensors)
# 20 KB: config.json and metrics.csv fit, a 51 KB checkpoint does not. The subshell keeps the limit
# away from this script.
(ulimit -f 20 && exec "$PATCHGRAD" train --resume "$run/last.safetensors" --epochs 3) > "$run.out" 2> "$run.err"
code=$?
check "full disk: training exits with code 1 (got $code)" [ $code -eq 1 ]
check "full disk: the error names the checkpoint and the cause" \
    grep -q "cannot write $run/\(best\|last\).safetensors: writing .* failed: File too large" "$run.err"
check "full disk: last.safetensors and best.safetensors are unchanged (sha256)" \
    [ "$before" = "$(cd "$run" && sha256sum last.safetensors best.safetensors)" ]
check "full disk: no temporary file is left behind" [ -z "$(find "$run" -name '*.tmp-*')" ]
resumes() { "$PATCHGRAD" train --resume "$run/last.safetensors" --epochs 2 > /dev/null 2>&1; }
check "full disk: with the limit gone, the run resumes and finishes" resumes

if [ -s "$WORK/eval_errors.txt" ]; then
    echo "      (eval errors:)"
    sed 's/^/      /' "$WORK/eval_errors.txt" | head -5
fi
finish
