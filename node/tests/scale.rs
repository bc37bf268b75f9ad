//! `scale-bench --smoke`: the scale benchmark (issue 5, point 4) at tiny sizes, so that it cannot
//! rot. It asserts what the benchmark checks and reports (every history page right, restarts
//! that compile nothing, the bytes on disk), never its timings, and then looks at the chain the
//! benchmark left behind on its own, through the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::{Value, json};
use vellum_node::chain::parse_hex;
use vellum_node::ledger::{Ledger, LedgerConfig};

#[test]
fn scale_bench_smoke_checks_every_page_and_restarts_without_recompiling() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("chain");
    let summary_path = tmp.path().join("scale.json");
    let out = Command::new(env!("CARGO_BIN_EXE_scale-bench"))
        .args(["--smoke", "--vellum-bin", env!("CARGO_BIN_EXE_vellum")])
        .arg("--data-dir")
        .arg(&data)
        .arg("--json")
        .arg(&summary_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scale-bench failed:\n{stderr}");
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.starts_with("## Scale: 3000 committed custody transactions"),
        "{markdown}"
    );
    assert!(markdown.contains("| `events` |"), "{markdown}");

    let s: Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let (txs, entries, samples) = (3_000u64, 300u64, 200u64);
    assert_eq!(s["txs"], txs);
    assert_eq!(s["doc_entries"], entries);
    assert_eq!(s["committed_txs"], txs + 2);
    // A full walk through each route (3 pages each) and two checked pages per sample.
    for chain in ["large", "empty"] {
        assert_eq!(
            s[chain]["pages_checked"],
            2 * entries.div_ceil(100) + 2 * samples,
            "{chain}"
        );
        for route in ["history", "events"] {
            assert_eq!(s[chain][route]["samples"], samples, "{chain} {route}");
            assert!(s[chain][route]["p99_ms"].as_f64().unwrap() > 0.0);
        }
    }
    // The restart loaded the one contract module from the disk cache and compiled nothing.
    let restart = &s["restart"];
    assert_eq!(restart["runs"].as_array().unwrap().len(), 1);
    assert_eq!(restart["compilations"], 0);
    assert_eq!(restart["disk_loads"], 1);
    assert_eq!(restart["module_cache_unchanged"], true);
    assert!(restart["runs"][0]["query_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        restart["node_store_open_ms"].as_array().unwrap().len(),
        1,
        "the node logs its redb open time"
    );
    // Bytes on disk are the file's.
    let redb_bytes = std::fs::metadata(data.join("chain.redb")).unwrap().len();
    assert_eq!(s["disk"]["chain_redb_bytes"], redb_bytes);
    let per_tx = s["disk"]["chain_redb_bytes_per_tx"].as_f64().unwrap();
    assert!((per_tx - redb_bytes as f64 / (txs + 2) as f64).abs() < 1.0);
    let tables = s["disk"]["tables"].as_array().unwrap();
    let txs_table = tables.iter().find(|t| t["name"] == "txs").unwrap();
    assert_eq!(txs_table["entries"], txs + 2);

    // The chain the benchmark left: every transaction committed, and the hot document holds
    // exactly its entries.
    let ledger = Ledger::open(LedgerConfig::new(&data, "vellum-scale")).unwrap();
    let snapshot = ledger.snapshot().unwrap();
    let tip = ledger.tip().0.height;
    let committed: u64 = (1..=tip)
        .map(|h| u64::from(snapshot.header(h).unwrap().unwrap().tx_count))
        .sum();
    assert_eq!(committed, txs + 2);
    let contract = parse_hex::<20>(s["contract"].as_str().unwrap()).unwrap();
    let msg = json!({"document": {"document_id": s["hot_document"]}}).to_string();
    let outcome = ledger
        .query(&contract, msg.as_bytes())
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    let document: Value = serde_json::from_slice(&outcome.output).unwrap();
    assert_eq!(document["history_len"], entries);
    ledger.shutdown();
}
