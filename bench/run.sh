#!/usr/bin/env bash
# The whole benchmark suite, one command: every part prints a Markdown section; the sections and
# a closing summary (every target of issue 5 against this run's figures) are written to
# target/perf/suite.md and to stdout.
#
#   bash bench/run.sh            # full run (about 3 minutes of measuring after the builds)
#   bash bench/run.sh --smoke    # every measurement a few times: seconds; CI runs this
#   bash bench/run.sh --no-build # use the binaries already in target/ (after a build of them)
#
# Parts record their figures as `key value` lines in $VELLUM_PERF_FIGURES (bench/harness), which
# the summary reads. To add a part, add one line to PARTS below: a name and a command printing
# Markdown. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=""
BUILD=1
for a in "$@"; do
    case "$a" in
        --smoke) SMOKE="--smoke" ;;
        --no-build) BUILD=0 ;;
        *) echo "usage: bash bench/run.sh [--smoke] [--no-build]" >&2; exit 2 ;;
    esac
done

OUT=target/perf
mkdir -p "$OUT"
export VELLUM_PERF_FIGURES="$PWD/$OUT/figures.txt"
: > "$VELLUM_PERF_FIGURES"

# Build everything first, so that build output and build time stay out of the measurements.
# `cargo test --workspace --no-run` builds target/release/vellum-bench (bench/tests needs it) with
# exactly the selection and features of the README's test command, so after CI's test step this
# compiles nothing (`cargo build -p vellum-bench` would rebuild wasmtime with other features).
if [ "$BUILD" = 1 ]; then
    echo "== building the suite" >&2
    cargo test --release --workspace --no-run >&2
    (
        cd bench/cosmwasm
        cargo build --release -p cosmwasm-bench
        cargo build --profile contract --target wasm32-unknown-unknown -p bench-cosmwasm
    ) >&2
fi

# The parts, in the order they run. Each is `name|command`; the command prints one Markdown
# section on stdout and records figures. A part whose command is HOOK is not built yet: it is
# listed so that the summary's "not measured" rows point here.
PARTS=(
    "vm|target/release/vellum-bench vm $SMOKE"
    "cosmwasm|target/cosmwasm/release/cosmwasm-bench $SMOKE"
    "ceilings|target/release/vellum-bench ceilings $SMOKE"
    # A chain of 1,000,000 transactions (issue 5 item 4): history pages, restart, bytes on disk.
    # VELLUM_SCALE_ARGS adds flags, e.g. "--data-dir /tmp/scale-1m/chain --reuse" to measure a
    # chain built by an earlier run instead of building one (about 2 minutes on a quiet machine).
    "scale|target/release/scale-bench $SMOKE ${VELLUM_SCALE_ARGS:-}"
    # A real node loaded over HTTP by loadgen (issue 5 item 3): maximum, 25/50/75/90 % of it and
    # a steady 5,000/s, in both submission modes.
    "e2e|bash bench/e2e.sh $SMOKE"
)

machine() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //' || true)
    echo "$(nproc) cores (${cpu:-unknown CPU}), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
}

SUITE="$OUT/suite.md"
{
    echo "## Benchmark suite"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(machine)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- command: \`bash bench/run.sh${SMOKE:+ $SMOKE}\`"
    if [ -e /work/QUIET ]; then echo "- note: /work/QUIET was set (quiet machine)"; fi
    echo
} > "$SUITE"

for part in "${PARTS[@]}"; do
    name="${part%%|*}"
    cmd="${part#*|}"
    echo "== part: $name" >&2
    if [ "$cmd" = "HOOK" ]; then
        printf '### %s\n\nNot part of this run yet (hook in bench/run.sh).\n\n' "$name" >> "$SUITE"
        continue
    fi
    start=$(date +%s)
    # shellcheck disable=SC2086 # the command is a word list on purpose
    $cmd >> "$SUITE"
    echo >> "$SUITE"
    echo "   $name took $(( $(date +%s) - start )) s" >&2
done

target/release/vellum-bench summary "$VELLUM_PERF_FIGURES" >> "$SUITE"
cat "$SUITE"
echo "== written to $SUITE" >&2
