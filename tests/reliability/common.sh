# Shared by tests/reliability/*.sh (sourced, not run): the program, a scratch folder, the data, and
# check(), which prints one PASS or FAIL line and remembers failures. docs/reliability.md explains the
# scripts.
#
#   PATCHGRAD   the program (default build/patchgrad)
#   DATA        a folder holding mnist/ (default data, from `make data`); when it lacks MNIST, small
#               random IDX files are generated instead (the checks are about files and signals, not accuracy)

PATCHGRAD=${PATCHGRAD:-build/patchgrad}
DATA=${DATA:-data}
FAILURES=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/patchgrad_reliability.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# check NAME COMMAND...: runs COMMAND; PASS when it succeeds, FAIL (and a non-zero exit at the end) when not.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "PASS  $name"
    else
        echo "FAIL  $name"
        FAILURES=$((FAILURES + 1))
    fi
}

finish() {
    if [ "$FAILURES" -ne 0 ]; then
        echo "$FAILURES check(s) failed"
        exit 1
    fi
    echo "all checks passed"
}

# A big-endian 32-bit integer as 4 bytes on stdout.
be32() {
    printf "\\x$(printf %02x $((($1 >> 24) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))"
    printf "\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $(($1 & 255)))"
}

# IDX files of COUNT random 28 x 28 images and labels 0..9 into DIR/mnist, as PREFIX-images-idx3-ubyte.
write_random_mnist() {
    local dir=$1 prefix=$2 count=$3 i
    mkdir -p "$dir/mnist"
    { be32 $((0x803)); be32 "$count"; be32 28; be32 28; head -c $((count * 784)) /dev/urandom; } \
        > "$dir/mnist/$prefix-images-idx3-ubyte"
    { be32 $((0x801)); be32 "$count"; for ((i = 0; i < count; i++)); do printf "\\x0$((i % 10))"; done; } \
        > "$dir/mnist/$prefix-labels-idx1-ubyte"
}

if [ ! -x "$PATCHGRAD" ]; then
    echo "$PATCHGRAD is missing: run make first" >&2
    exit 1
fi
if [ ! -f "$DATA/mnist/t10k-labels-idx1-ubyte" ]; then
    echo "($DATA/mnist is missing: using generated random images)"
    DATA=$WORK/data
    write_random_mnist "$DATA" train 2048
    write_random_mnist "$DATA" t10k 256
fi
