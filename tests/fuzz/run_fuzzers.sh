#!/usr/bin/env bash
# Runs the fuzzers of build/fuzz one at a time, each for FUZZ_SECONDS, on its corpus build/fuzz/corpus/NAME
# (kept between runs, so every run starts where the last one stopped) plus the seeds of make_seeds.
# `make fuzz` calls it; docs/reliability.md ("Fuzzing") explains the output.
#
#   FUZZ_DIR=build/fuzz FUZZ_SECONDS=60 bash tests/fuzz/run_fuzzers.sh NAME...
#
# A thrown std::exception is a refusal inside the fuzzers; what libFuzzer reports is a crash, a sanitizer
# report, an input taking over 2 s (-timeout), a process over 2 GB (-rss_limit_mb) or one allocation
# over 512 MB (-malloc_limit_mb). The reproducer lands in build/fuzz/artifacts/NAME/ and the exit status
# is 1 when any fuzzer found something.
set -u
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
status=0
summary=()
for name in "$@"; do
    binary="$FUZZ_DIR/fuzz_$name"
    corpus="$FUZZ_DIR/corpus/$name" seeds="$FUZZ_DIR/seeds/$name" artifacts="$FUZZ_DIR/artifacts/$name"
    log="$FUZZ_DIR/logs/$name.log"
    mkdir -p "$corpus" "$seeds" "$artifacts" "$FUZZ_DIR/logs"
    echo "fuzz $name: $binary -max_total_time=$FUZZ_SECONDS -timeout=2 -rss_limit_mb=2048 -malloc_limit_mb=512 $corpus $seeds (log: $log)"
    start=$(date +%s)
    "$binary" -max_total_time="$FUZZ_SECONDS" -timeout=2 -rss_limit_mb=2048 -malloc_limit_mb=512 -workers=1 \
              -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" > "$log" 2>&1
    rc=$?
    seconds=$(( $(date +%s) - start ))
    # libFuzzer's last status line ("#123456 DONE cov: 812 ft: 2301 corp: ...") and its final count.
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    runs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last")
    if [ "$rc" -eq 0 ]; then
        found="nothing"
    else
        found="FOUND (exit $rc): $(grep -m1 -E 'ERROR: |runtime error:|deadly signal|timeout|out-of-memory' "$log" | cut -c1-120)"
        found="$found; reproducer: $(ls -t "$artifacts" 2>/dev/null | head -n 1 | sed "s|^|$artifacts/|")"
        status=1
        tail -n 40 "$log"
    fi
    line=$(printf '%-12s %10s execs  cov %5s  ft %6s  %4ss  %s' "$name" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$seconds" "$found")
    echo "$line"
    summary+=("$line")
done
echo
echo "fuzz summary (FUZZ_SECONDS=$FUZZ_SECONDS):"
printf '  %s\n' "${summary[@]}"
exit $status
