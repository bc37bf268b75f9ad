# Sourced by the bench scripts: starts a release `vellum node` on a free port.
#
#   start_node DATA_DIR LOG_DIR   sets NODE_PID and NODE_URL, or prints the node's log and
#                                 returns 1 if it did not come up within 30 s.
#
# Expects target/release/vellum and the repository root as the working directory.
start_node() {
    local data=$1 logs=$2
    target/release/vellum node --listen 127.0.0.1:0 --data-dir "$data" \
        > "$logs/node.out" 2> "$logs/node.log" &
    NODE_PID=$!
    for _ in $(seq 300); do
        grep -q "listening on" "$logs/node.out" && break
        sleep 0.1
    done
    NODE_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$logs/node.out")
    if [ -z "$NODE_URL" ]; then
        echo "the node did not start:" >&2
        cat "$logs/node.log" >&2
        kill "$NODE_PID" 2>/dev/null || true
        return 1
    fi
}
