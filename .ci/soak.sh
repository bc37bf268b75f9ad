#!/usr/bin/env bash
# The load soak of issue 6 in its long form (about 12 minutes; not part of .ci/run): measures
# the node's maximum durable throughput, holds half of it for 10 minutes (zero 5xx, resident
# memory growth at most 10 % between minute 1 and minute 10), offers twice it for 60 s (only
# 2xx, 429 or 503), then checks the node still commits. Arguments go to the `soak` binary, e.g.
# `bash .ci/soak.sh --soak-secs 120`. See tests/src/soak.rs and docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# The whole workspace, so that features unify as in the test command (no rebuild of wasmtime).
cargo build --release --workspace --bins
exec target/release/soak "$@"
