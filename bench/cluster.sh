#!/usr/bin/env bash
# A three-node cluster beside a single node (issue 7): the same `loadgen --sweep` against one
# `vellum node` and against the leader of three `vellum node --node-id` processes on loopback,
# all on this machine's cores. Prints Markdown (loadgen's tables, one per setup).
#
#   bash bench/cluster.sh            # about 5 minutes
#   bash bench/cluster.sh --smoke    # seconds: checks that the script still runs
#   PARTS="one" bash bench/cluster.sh  # only some setups: single, one (a cluster of one), three
#
# Expects target/release/vellum and target/release/loadgen (cargo build --release -p vellum-node).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=""
[ "${1:-}" = "--smoke" ] && smoke=1
secret="bench-cluster-secret-0123456789"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME [ARGS...]: starts a node, waits for its URL; sets $url and $pid.
start() {
    local name=$1
    shift
    target/release/vellum node --listen 127.0.0.1:0 --data-dir "$work/$name" "$@" \
        > "$work/$name.out" 2> "$work/$name.log" &
    pid=$!
    pids+=("$pid")
    url=""
    for _ in $(seq 300); do
        url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/$name.out")
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        echo "bench/cluster.sh: node $name did not start:" >&2
        cat "$work/$name.log" >&2
        exit 1
    fi
}

args=(--txs 40000 --phase-secs 8 --fixed-rate 1000 --fixed-rate 2000)
[ -n "$smoke" ] && args=(--txs 600 --phase-secs 0.5 --fixed-rate 200)
load() {
    target/release/loadgen --url "$1" --connections 128 --client-threads 2 \
        --node-pid "$2" --mode wait --sweep "${args[@]}"
}

parts=${PARTS:-single one three}

# cluster N: starts N members, forms the cluster, loads its leader, stops them.
cluster() {
    local n=$1 i members="" leader=""
    local urls=() cpids=()
    for i in $(seq "$n"); do
        start "c$n-$i" --node-id "$i" --cluster-secret "$secret"
        urls+=("$url")
        cpids+=("$pid")
        members+="${members:+,}$i=$url"
    done
    VELLUM_CLUSTER_SECRET=$secret target/release/vellum --node "${urls[0]}" cluster init \
        --members "$members" > /dev/null
    for _ in $(seq 100); do
        leader=$(target/release/vellum --json --node "${urls[0]}" cluster show 2>/dev/null |
            python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader") or "")' || true)
        [ -n "$leader" ] && break
        sleep 0.1
    done
    [ -n "$leader" ] || { echo "bench/cluster.sh: no leader" >&2; exit 1; }
    echo "leader: node $leader; the CPU figures are the leader's process only"
    echo
    load "${urls[$((leader - 1))]}" "${cpids[$((leader - 1))]}"
    for i in "${cpids[@]}"; do kill -TERM "$i" 2>/dev/null || true; done
    for i in "${cpids[@]}"; do wait "$i" 2>/dev/null || true; done
}

for part in $parts; do
    case $part in
    single)
        echo "### One node (local pipeline)"
        echo
        start single
        load "$url" "$pid"
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        ;;
    one)
        echo "### A cluster of one (openraft, one voter): the replicated path on one node"
        echo
        cluster 1
        ;;
    three)
        echo "### Three-node cluster (openraft), load sent to the leader"
        echo
        cluster 3
        ;;
    *)
        echo "bench/cluster.sh: unknown part $part (single, one, three)" >&2
        exit 2
        ;;
    esac
    echo
done
