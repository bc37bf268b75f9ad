#!/usr/bin/env bash
# The p99 at a steady 5,000/s (issue 4), measured so that the host's noise can be told apart from
# the node's: rounds of alternating runs, each a fresh node on a new data directory loaded by
# `loadgen --client-threads 2 --connections 256 --rate 5000 --txs 50000`, in up to three
# placements of the data directory:
#   disk   the working directory's disk (the real thing: every journal flush reaches it);
#   tmpfs  /dev/shm: `fdatasync` costs nothing, so what remains is CPU, HTTP and the client;
#   split  the journal on disk, redb's file on tmpfs: the journal's own flushes, without redb's
#          write-back on the same device.
# A tmpfs p99 above the target means the host, not the disk or the node, sets the figure of that
# hour; loadgen's "send lateness" p99 (the client waiting for a CPU) says the same from the
# client's side. Prints each run and the medians per placement, as Markdown.
#
#   bash bench/p99.sh                       # 5 rounds of disk and tmpfs: about 5 minutes
#   bash bench/p99.sh --rounds 8 --placements disk,tmpfs,split --documents random
#   bash bench/p99.sh --smoke               # one short round of each placement: seconds
#
# Expects target/release/vellum and target/release/loadgen (cargo build --release -p vellum-node).
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/node.sh

rounds=5
placements=disk,tmpfs
documents=sequential
load=(--connections 256 --rate 5000 --txs 50000)
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --placements) placements=$2; shift 2 ;;
        --documents) documents=$2; shift 2 ;;
        --smoke) rounds=1; placements=disk,tmpfs,split; load=(--connections 16 --rate 500 --txs 500); shift ;;
        *) echo "usage: bash bench/p99.sh [--rounds N] [--placements disk,tmpfs,split] [--documents sequential|random] [--smoke]" >&2; exit 2 ;;
    esac
done
IFS=, read -r -a places <<< "$placements"
for p in "${places[@]}"; do
    case "$p" in
        disk) ;;
        tmpfs|split) [ -d /dev/shm ] && [ -w /dev/shm ] || { echo "bench/p99.sh: $p needs a writable /dev/shm" >&2; exit 2; } ;;
        *) echo "bench/p99.sh: unknown placement $p (disk, tmpfs, split)" >&2; exit 2 ;;
    esac
done

mkdir -p target
work=$(mktemp -d -p "$PWD/target")
shm=""
case ",$placements," in *,tmpfs,*|*,split,*) shm=$(mktemp -d -p /dev/shm vellum-p99.XXXXXX) ;; esac
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT

# run PLACEMENT: one fresh node and one loadgen run; prints "p50 p99 lateness_p99 node_us".
run() {
    local place=$1 dir mem data pid url out
    dir=$(mktemp -d -p "$work")
    data="$dir/data"
    case "$place" in
        tmpfs) mem=$(mktemp -d -p "$shm"); data="$mem/data" ;;
        split) mem=$(mktemp -d -p "$shm"); mkdir -p "$data"
               ln -s "$mem/chain.redb" "$data/chain.redb" ;;
    esac
    start_node "$data" "$dir" || return 1
    pid=$NODE_PID url=$NODE_URL
    out=$(target/release/loadgen --url "$url" --client-threads 2 --node-pid "$pid" \
        --documents "$documents" "${load[@]}")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir" ${mem:+"$mem"}
    local p50 p99 late cpu
    p50=$(sed -n 's/^submit-to-commit latency: p50 \([0-9.]*\) ms.*/\1/p' <<< "$out")
    p99=$(sed -n 's/^submit-to-commit latency: .* p99 \([0-9.]*\) ms, p999.*/\1/p' <<< "$out")
    late=$(sed -n 's/^send lateness after the due time: .* p99 \([0-9.]*\) ms.*/\1/p' <<< "$out")
    cpu=$(sed -n 's/^CPU per committed transaction: node \([0-9]*\) us.*/\1/p' <<< "$out")
    if [ -z "$p99" ] || [ -z "$p50" ] || [ -z "$late" ] || [ -z "$cpu" ]; then
        echo "bench/p99.sh: could not read loadgen's report:" >&2
        echo "$out" >&2
        return 1
    fi
    echo "$p50 $p99 $late $cpu"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "p99 at a steady rate (\`loadgen --client-threads 2 ${load[*]} --documents $documents\`), $rounds round(s), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| round | data on | p50 ms | p99 ms | client send lateness p99 ms | node CPU µs/tx |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
declare -A results
for r in $(seq "$rounds"); do
    for p in "${places[@]}"; do
        line=$(run "$p")
        read -r p50 p99 late cpu <<< "$line"
        echo "| $r | $p | $p50 | $p99 | $late | $cpu |"
        results[$p]+="$p50 $p99 $late"$'\n'
    done
done
echo
echo "| data on | median p50 ms | median p99 ms | every p99 ms | median lateness p99 ms |"
echo "| --- | ---: | ---: | --- | ---: |"
for p in "${places[@]}"; do
    rows=${results[$p]}
    echo "| $p | $(awk 'NF {print $1}' <<< "$rows" | median) | $(awk 'NF {print $2}' <<< "$rows" | median) | $(awk 'NF {print $2}' <<< "$rows" | sort -g | paste -sd, - | sed 's/,/, /g') | $(awk 'NF {print $3}' <<< "$rows" | median) |"
done
