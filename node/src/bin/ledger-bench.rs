//! The ledger without HTTP: a benchmark and a soak driver.
//!
//! `cargo run --release -p vellum-node --bin ledger-bench -- bench [--txs N] [--accounts K]`
//! pre-signs N custody `register` transactions from K accounts, then measures in one run:
//! the verification ceilings on one core and on all cores (k256, and the node's own check on
//! libsecp256k1), and the ledger pipeline
//! (parallel signature checks → mempool → execution → durable commit): committed transactions
//! per second and the p50/p99 latency from admission to durable commit.
//!
//! `ledger-bench soak --data-dir DIR` commits custody transactions forever, printing
//! `ack <tx_hash>` after each receipt (that is, after its block's durable commit). The crash
//! test kills it with SIGKILL at random moments and checks every acknowledged transaction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The node binary's allocator (see `node/src/main.rs`), so that the figures are the node's as
/// it runs: glibc's malloc cost this harness about 3 % of its CPU (perf, 2026-11-30).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;
use rayon::prelude::*;
use serde_json::json;
use vellum_node::chain::tx::{
    Action, Envelope, KeyCache, address_of_signing_key, payload_json, sign, verify_signature,
};
use vellum_node::chain::{Address, contract_address, sha256};
use vellum_node::ledger::{Ledger, LedgerConfig};
use vellum_node::procstat;

const CHAIN: &str = "vellum-bench";
const DOC_HASH: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

fn key(i: u64) -> SigningKey {
    SigningKey::from_slice(&sha256(&[b"ledger-bench", &i.to_be_bytes()])).unwrap()
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn custody_wasm() -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/custody");
    vellum_testing::build_contract(dir).expect("building contracts/custody")
}

fn signed(k: &SigningKey, nonce: u64, action: &Action) -> Envelope {
    sign(
        &payload_json(CHAIN, &address_of_signing_key(k), nonce, None, action),
        k,
    )
}

fn register(contract: &Address, doc: &str) -> Action {
    Action::Execute {
        contract: hex::encode(contract),
        msg: serde_json::value::to_raw_value(
            &json!({"register": {"document_id": doc, "sha256": DOC_HASH}}),
        )
        .unwrap(),
    }
}

/// Deploys and instantiates custody from account 0 if that has not happened; returns its
/// address.
fn ensure_custody(ledger: &Ledger) -> Address {
    let admin = key(0);
    let admin_addr = address_of_signing_key(&admin);
    let contract = contract_address(&admin_addr, 1);
    if ledger.next_nonce(&admin_addr).unwrap() >= 2 {
        return contract;
    }
    use base64::Engine as _;
    let code = base64::engine::general_purpose::STANDARD.encode(custody_wasm());
    let (_, rx) = ledger
        .submit(signed(&admin, 0, &Action::Deploy { code }))
        .unwrap();
    let r = rx.blocking_recv().unwrap();
    assert!(r.success, "{:?}", r.error);
    let code_hash = serde_json::from_str::<serde_json::Value>(r.output.get()).unwrap()["code_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let msg = serde_json::value::to_raw_value(&json!({})).unwrap();
    let (_, rx) = ledger
        .submit(signed(
            &admin,
            1,
            &Action::Instantiate {
                code_hash,
                msg,
                label: "custody".into(),
            },
        ))
        .unwrap();
    let r = rx.blocking_recv().unwrap();
    assert!(r.success, "{:?}", r.error);
    contract
}

/// CPU time (user + system, in seconds) of this process's threads grouped by role, from
/// `/proc/self/task/*/stat` (Linux; empty elsewhere).
fn thread_cpu() -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for (name, seconds) in procstat::thread_cpu_by_name(None) {
        let role = match name.as_str() {
            procstat::THREAD_PRODUCER => "execute",
            procstat::THREAD_WRITER => "write",
            _ => "verify+admit+harness",
        };
        *out.entry(role.to_string()).or_insert(0.0) += seconds;
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Verifications per second on one core and on all cores, for k256 (the ceiling the targets are
/// stated against) and for the node's own check, [`verify_signature`] (libsecp256k1).
type Item = ([u8; 33], Vec<u8>, [u8; 64]);

/// Envelopes verified before timing, to fill the node's key cache.
const KEY_WARMUP_ITEMS: usize = 1024;

struct Ceilings {
    k256: (f64, f64),
    node: (f64, f64),
}

fn verify_ceilings(envelopes: &[Envelope]) -> Ceilings {
    use k256::ecdsa::signature::Verifier as _;
    let items: Vec<Item> = envelopes
        .iter()
        .map(|e| {
            let pk: [u8; 33] = hex::decode(&e.public_key).unwrap().try_into().unwrap();
            let sig: [u8; 64] = hex::decode(&e.signature).unwrap().try_into().unwrap();
            (pk, e.payload.as_bytes().to_vec(), sig)
        })
        .collect();
    // Parsed keys are cached on both paths, as the node does.
    let k256_keys: std::collections::HashMap<[u8; 33], k256::ecdsa::VerifyingKey> = items
        .iter()
        .map(|(pk, _, _)| (*pk, k256::ecdsa::VerifyingKey::from_sec1_bytes(pk).unwrap()))
        .collect();
    let k256_verify = |(pk, msg, sig): &Item| {
        let sig = k256::ecdsa::Signature::from_slice(sig).unwrap();
        k256_keys[pk].verify(msg, &sig).unwrap();
    };
    let keys = KeyCache::default();
    let node_verify = |(pk, msg, sig): &Item| {
        verify_signature(pk, msg, sig, &keys).unwrap();
    };
    // Warm the node's key cache as k256's keys are pre-parsed: accounts repeat, so the first
    // few hundred envelopes carry every key of a run with up to that many accounts.
    items.iter().take(KEY_WARMUP_ITEMS).for_each(node_verify);
    let rates = |f: &(dyn Fn(&Item) + Sync)| {
        let one = items.len().min(3000);
        let t = Instant::now();
        items[..one].iter().for_each(f);
        let single = one as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        items.par_iter().for_each(f);
        (single, items.len() as f64 / t.elapsed().as_secs_f64())
    };
    Ceilings {
        k256: rates(&k256_verify),
        node: rates(&node_verify),
    }
}

fn bench(args: &[String]) {
    let n: usize = arg(args, "--txs").map_or(20_000, |v| v.parse().unwrap());
    let accounts: u64 = arg(args, "--accounts").map_or(64, |v| v.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let data_dir = arg(args, "--data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    println!(
        "machine: {} cores; {n} custody register transactions from {accounts} accounts",
        rayon::current_num_threads()
    );

    let ledger = Arc::new(Ledger::open(LedgerConfig::new(&data_dir, CHAIN)).unwrap());
    let contract = ensure_custody(&ledger);

    let t = Instant::now();
    let envelopes: Vec<Envelope> = (0..n)
        .into_par_iter()
        .map(|i| {
            let account = 1 + (i as u64 % accounts);
            let nonce = i as u64 / accounts;
            signed(
                &key(account),
                nonce,
                &register(&contract, &format!("doc-{i}")),
            )
        })
        .collect();
    println!("pre-signed in {:.2} s", t.elapsed().as_secs_f64());

    let before = verify_ceilings(&envelopes);
    let envelopes = Arc::new(envelopes);
    print_ceilings("", &before);

    // The pipeline: chunks verified in parallel on all cores, admitted in order.
    // Receipts are observed per committed block (one wake-up per block, as an API server
    // streaming blocks would), not per transaction, so the harness does not add a thread
    // switch to every transaction.
    let mut blocks_rx = ledger.subscribe();
    let admitted: Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Instant>>> = Arc::new(
        std::sync::Mutex::new(std::collections::HashMap::with_capacity(n)),
    );
    let collector = {
        let admitted = admitted.clone();
        std::thread::spawn(move || {
            let mut committed_at = Vec::with_capacity(n);
            let mut failures = 0usize;
            while committed_at.len() < n {
                let Ok(block) = blocks_rx.blocking_recv() else {
                    break;
                };
                let now = Instant::now();
                for r in &block.receipts {
                    if !r.success {
                        failures += 1;
                    }
                    committed_at.push((r.tx_hash.clone(), now));
                }
            }
            let admitted = admitted.lock().unwrap();
            let latencies: Vec<Duration> = committed_at
                .iter()
                .filter_map(|(h, at)| {
                    let h: [u8; 32] = hex::decode(h).ok()?.try_into().ok()?;
                    admitted.get(&h).map(|a| at.saturating_duration_since(*a))
                })
                .collect();
            (latencies, failures, Instant::now())
        })
    };
    let cpu_before = thread_cpu();
    let started = Instant::now();
    // Signature checks run on all cores in chunks while this thread admits the previous chunk,
    // as HTTP handlers would verify concurrently and admit in arrival order.
    let (verified_tx, verified_rx) = std::sync::mpsc::sync_channel::<Vec<_>>(4);
    let verifier = {
        let ledger = ledger.clone();
        let envelopes = envelopes.clone();
        std::thread::spawn(move || {
            for chunk in envelopes.chunks(256) {
                let verified: Vec<_> = chunk.par_iter().map(|e| ledger.verify(e.clone())).collect();
                if verified_tx.send(verified).is_err() {
                    return;
                }
            }
        })
    };
    let mut receivers = Vec::with_capacity(n);
    for chunk in verified_rx {
        let mut stamps = Vec::with_capacity(chunk.len());
        for v in chunk {
            let v = v.unwrap();
            let hash = v.hash;
            stamps.push((hash, Instant::now()));
            receivers.push(ledger.admit(v).unwrap());
        }
        admitted.lock().unwrap().extend(stamps);
    }
    verifier.join().unwrap();
    let (mut latencies, failures, finished) = collector.join().unwrap();
    let cpu_after = thread_cpu();
    drop(receivers);
    let elapsed = finished - started;
    latencies.sort();
    let tps = n as f64 / elapsed.as_secs_f64();
    let m = ledger.metrics();
    let blocks = m
        .blocks_committed
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "committed {n} transactions in {:.2} s: {tps:.0} tx/s ({failures} failed)",
        elapsed.as_secs_f64()
    );
    println!(
        "admission-to-durable-commit latency: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "blocks: {blocks} (about {:.0} transactions per block)",
        n as f64 / blocks.max(1) as f64
    );
    let mut total = 0.0;
    let mut parts = Vec::new();
    for (role, after) in &cpu_after {
        let used = after - cpu_before.get(role).copied().unwrap_or(0.0);
        total += used;
        parts.push(format!("{role} {:.1} us", used * 1e6 / n as f64));
    }
    println!(
        "CPU per transaction during the run: {:.1} us ({})",
        total * 1e6 / n as f64,
        parts.join(", ")
    );
    let per_tx = |total: &std::sync::atomic::AtomicU64| {
        total.load(std::sync::atomic::Ordering::Relaxed) as f64 / n as f64
    };
    println!(
        "producer thread per transaction: execute {:.1} us, durable write {:.1} us",
        per_tx(&m.execute_micros_total),
        per_tx(&m.write_micros_total)
    );
    // The machine is shared: measure the ceiling again after the run and compare with the
    // higher of the two, which is the conservative ratio.
    let after = verify_ceilings(&envelopes[..envelopes.len().min(20_000)]);
    print_ceilings(" after the run", &after);
    println!(
        "ratio to the all-core k256 verify ceiling: {:.2}",
        tps / before.k256.1.max(after.k256.1)
    );
    println!(
        "ratio to the all-core ceiling of the node's own check (libsecp256k1): {:.2}",
        tps / before.node.1.max(after.node.1)
    );
    ledger.shutdown();
}

fn print_ceilings(when: &str, c: &Ceilings) {
    println!(
        "k256 verify ceiling{when}: {:.0}/s on one core, {:.0}/s on all cores",
        c.k256.0, c.k256.1
    );
    println!(
        "node verify ceiling (libsecp256k1){when}: {:.0}/s on one core, {:.0}/s on all cores",
        c.node.0, c.node.1
    );
}

fn soak(args: &[String]) {
    let data_dir = PathBuf::from(arg(args, "--data-dir").expect("--data-dir DIR"));
    let batch: u64 = arg(args, "--batch").map_or(32, |v| v.parse().unwrap());
    let ledger = Ledger::open(LedgerConfig::new(&data_dir, CHAIN)).unwrap();
    let contract = ensure_custody(&ledger);
    let author = key(1);
    let me = address_of_signing_key(&author);
    let stdout = std::io::stdout();
    loop {
        let start = ledger.next_nonce(&me).unwrap();
        let receivers: Vec<_> = (start..start + batch)
            .map(|nonce| {
                ledger
                    .submit(signed(
                        &author,
                        nonce,
                        &register(&contract, &format!("soak-{nonce}")),
                    ))
                    .unwrap()
            })
            .collect();
        for (hash, rx) in receivers {
            let receipt = rx.blocking_recv().unwrap();
            assert!(receipt.success, "{:?}", receipt.error);
            let mut out = stdout.lock();
            writeln!(out, "ack {}", hex::encode(hash)).unwrap();
            out.flush().unwrap();
        }
    }
}

fn main() {
    // Fault injection (`docs/testing-faults.md`), as in `vellum node`.
    if let Err(e) = vellum_node::failpoints::setup_from_env() {
        eprintln!("ledger-bench: {e}");
        std::process::exit(2);
    }
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("bench") => bench(&args),
        Some("soak") => soak(&args),
        _ => {
            eprintln!(
                "usage: ledger-bench bench [--txs N] [--accounts K] | soak --data-dir DIR [--batch N]"
            );
            std::process::exit(2);
        }
    }
}
