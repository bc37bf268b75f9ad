#!/usr/bin/env bash
# End to end over HTTP (issue 5, item 3): a real node on a fresh data directory, loaded by
# `loadgen --sweep` in both modes: its maximum, then 25/50/75/90 % of it and a steady 5,000/s,
# with latency percentiles and the node's CPU per transaction by stage. Prints Markdown; records
# figures in $VELLUM_PERF_FIGURES when set (bench/run.sh).
#
#   bash bench/e2e.sh            # full: about 5 minutes
#   bash bench/e2e.sh --smoke    # seconds: checks that the part still runs
#
# Expects target/release/vellum and target/release/loadgen (cargo build --release -p vellum-node).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=""
[ "${1:-}" = "--smoke" ] && smoke=1
. bench/node.sh

# run_mode MODE [BATCH]: without BATCH the sweep of one transaction per request; with it the
# maximum (closed loop) of BATCH transactions per `POST /v1/transactions/batch`.
run_mode() {
    local mode=$1 batch=${2:-} dir pid url
    dir=$(mktemp -d)
    start_node "$dir/data" "$dir" || return 1
    pid=$NODE_PID url=$NODE_URL
    local args=(--connections 256 --sweep --txs 60000 --phase-secs 10 --fixed-rate 5000)
    [ -n "$smoke" ] && args=(--connections 256 --sweep --txs 1000 --phase-secs 0.5 --fixed-rate 500)
    if [ -n "$batch" ]; then
        args=(--connections 64 --batch "$batch" --txs 120000)
        [ -n "$smoke" ] && args=(--connections 8 --batch "$batch" --txs 2000)
    fi
    local status=0
    target/release/loadgen --url "$url" --client-threads 2 \
        --node-pid "$pid" --mode "$mode" "${args[@]}" || status=$?
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    return $status
}

echo "Client (loadgen, 2 threads, 256 keep-alive connections) and node on the same 2 cores."
echo "\`wait\`: each request is \`?wait=true\`, answered after the durable commit."
echo "\`stream\`: answered at admission (202); the commit is seen on \`GET /v1/stream\`."
run_mode wait
run_mode stream
echo
echo "### Bulk submission: 64 transactions per \`POST /v1/transactions/batch\`, 64 connections"
echo
run_mode wait 64
echo
run_mode stream 64
