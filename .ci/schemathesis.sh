#!/usr/bin/env bash
# schemathesis (PyPI) against a fresh node's /v1/openapi.json with all its checks: no server
# error, no schema violation. Not part of .ci/run (CI time budget); docs/api.md has the command
# and the last result. Needs python3 with venv; installs schemathesis into target/ if missing.
#
# Two passes: one where schemathesis generates every parameter, one where the path parameters
# name a real custody contract, account and transaction (made by a short loadgen run), so the
# tests reach existing objects and not only 404s.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

cargo build --release -q -p vellum-node --bin vellum --bin loadgen
st=schemathesis
if ! command -v "$st" >/dev/null; then
    python3 -m venv target/schemathesis-venv
    target/schemathesis-venv/bin/pip install -q 'schemathesis>=4,<5'
    st=$root/target/schemathesis-venv/bin/schemathesis
fi

work=$(mktemp -d)
./target/release/vellum node --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/log" &
node=$!
trap 'kill -TERM $node 2>/dev/null || true; wait $node || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q http "$work/out" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out")

echo "== pass 1: generated parameters"
# From the temporary directory, so that schemathesis keeps its example database there.
(cd "$work" && "$st" --config-file "$root/.ci/schemathesis.toml" run "$url/v1/openapi.json" --checks all)

echo "== pass 2: a real contract, account and transaction"
contract=$(./target/release/loadgen --url "$url" --txs 64 --connections 4 --accounts 4 \
    | sed -n 's/.*custody contract \([0-9a-f]*\).*/\1/p')
tx=$(curl -sf "$url/v1/blocks/latest" | sed -E 's/.*"tx_hashes":\["([0-9a-f]+)".*/\1/')
{
    cat .ci/schemathesis.toml
    printf '\n[parameters]\n"path.address" = "%s"\n"path.hash" = "%s"\n' "$contract" "$tx"
    printf '"query.key" = "document_id"\n'
} >"$work/st.toml"
(cd "$work" && "$st" --config-file "$work/st.toml" run "$url/v1/openapi.json" --checks all)
