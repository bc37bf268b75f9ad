#!/usr/bin/env bash
# The custody flow through the `vellum` CLI, against a running node.
#
# Run with a node running (`cargo run --release -p vellum-node --bin vellum -- node`), then
# `bash examples/custody.sh`. Set VELLUM_NODE for another node. Keys go to a temporary
# directory, so the script can run again on the same node.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p vellum-node --bin vellum
vellum() { ./target/release/vellum "$@"; }
export VELLUM_KEYS_DIR="$(mktemp -d)"
trap 'rm -rf "$VELLUM_KEYS_DIR"' EXIT

vellum status
for who in hospital doctor insurer; do vellum keys new "$who"; done
doctor=$(vellum keys show doctor --json | sed -E 's/.*"address":"([0-9a-f]+)".*/\1/')

wasm=$(vellum contract build contracts/custody | tail -n1)
code_hash=$(vellum deploy --from hospital "$wasm" --json | sed -E 's/.*"code_hash":"([0-9a-f]+)".*/\1/')
echo "code hash $code_hash"
contract=$(vellum instantiate --from hospital "$code_hash" --label custody --json \
    | sed -E 's/.*"contract":"([0-9a-f]+)".*/\1/')
echo "contract $contract"

sha=$(printf 'discharge summary, patient 4711' | sha256sum | cut -d' ' -f1)
vellum call --from hospital "$contract" "{\"register\": {\"document_id\": \"record-4711\", \"sha256\": \"$sha\"}}"
vellum call --from hospital "$contract" "{\"grant\": {\"document_id\": \"record-4711\", \"grantee\": \"$doctor\"}}"
vellum call --from doctor "$contract" '{"access": {"document_id": "record-4711", "purpose": "follow-up"}}'
vellum call --from insurer "$contract" '{"access": {"document_id": "record-4711", "purpose": "claim"}}'
# Not the custodian: committed as a failed transaction, and the CLI exits with status 1.
if vellum call --from insurer "$contract" "{\"update\": {\"document_id\": \"record-4711\", \"sha256\": \"$sha\"}}"; then
    echo "the insurer's update should have failed" >&2; exit 1
fi
vellum call --from hospital "$contract" "{\"transfer\": {\"document_id\": \"record-4711\", \"new_custodian\": \"$doctor\"}}"

vellum history "$contract" record-4711
vellum query "$contract" "{\"verify\": {\"document_id\": \"record-4711\", \"sha256\": \"$sha\"}}"
