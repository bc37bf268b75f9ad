//! Determinism is a consensus property. This runs a fixed sequence of custody and counter calls
//! (successes and every kind of refusal) in this process and again in a child process, and
//! checks that outputs, fuel used, events and writes are identical in both and equal to the
//! golden file `tests/golden/determinism.json`. Only an explicit re-bless changes the golden
//! file: `VELLUM_BLESS=1 cargo test --release -p vellum-runtime --test determinism`.
//!
//! A custom harness (`harness = false`) so the binary can re-run itself as the child.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, ExitCode};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vellum_testing::{EntryPoint, Outcome, TestChain, account, build_contract, hex_addr};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/determinism.json");
const CHILD_FLAG: &str = "--determinism-child";

fn contract_dir(name: &str) -> String {
    format!("{}/../contracts/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn describe(outcome: &Outcome) -> Value {
    match &outcome.result {
        Ok(s) => {
            let mut writes = Sha256::new();
            for w in &s.writes {
                writes.update((w.key.len() as u32).to_be_bytes());
                writes.update(&w.key);
                match &w.value {
                    Some(v) => {
                        writes.update([1]);
                        writes.update((v.len() as u32).to_be_bytes());
                        writes.update(v);
                    }
                    None => writes.update([0]),
                }
            }
            json!({
                "fuel_used": outcome.fuel_used,
                "output": String::from_utf8_lossy(&s.output),
                "events": s.events.iter().map(|e| json!([e.ty, e.attributes])).collect::<Vec<_>>(),
                "writes": s.writes.len(),
                "writes_sha256": hex::encode(writes.finalize()),
            })
        }
        Err(f) => json!({ "fuel_used": outcome.fuel_used, "failure": f.to_string() }),
    }
}

/// The fixed scenario. Everything in it is deterministic: accounts, heights, times, hashes.
fn record() -> Value {
    let custody = build_contract(contract_dir("custody")).expect("build custody");
    let counter = build_contract(contract_dir("counter")).expect("build counter");
    let mut chain = TestChain::new();
    let custody_hash = chain.deploy(&custody).expect("deploy custody");
    let counter_hash = chain.deploy(&counter).expect("deploy counter");
    let (alice, bob, carol) = (account("alice"), account("bob"), account("carol"));
    let h = |c: char| c.to_string().repeat(64);
    let c = chain
        .instantiate(custody_hash, alice, &json!({}))
        .expect("instantiate custody");
    let n = chain
        .instantiate(counter_hash, alice, &json!({"count": 1}))
        .expect("instantiate counter");

    let steps: Vec<(_, _, _, Value)> = vec![
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"register": {"document_id": "d1", "sha256": h('a')}}),
        ),
        (
            c,
            bob,
            EntryPoint::Execute,
            json!({"update": {"document_id": "d1", "sha256": h('b')}}),
        ),
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"update": {"document_id": "d1", "sha256": h('b')}}),
        ),
        (
            c,
            bob,
            EntryPoint::Execute,
            json!({"access": {"document_id": "d1", "purpose": "audit"}}),
        ),
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"grant": {"document_id": "d1", "grantee": hex_addr(&bob)}}),
        ),
        (
            c,
            bob,
            EntryPoint::Execute,
            json!({"access": {"document_id": "d1", "purpose": "audit"}}),
        ),
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"revoke": {"document_id": "d1", "grantee": hex_addr(&bob)}}),
        ),
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"transfer": {"document_id": "d1", "new_custodian": hex_addr(&carol)}}),
        ),
        (
            c,
            alice,
            EntryPoint::Execute,
            json!({"register": {"document_id": "d2", "sha256": "xyz"}}),
        ),
        (c, alice, EntryPoint::Execute, json!({"nonsense": {}})),
        (
            c,
            alice,
            EntryPoint::Query,
            json!({"history": {"document_id": "d1", "start_after": 1, "limit": 3}}),
        ),
        (
            c,
            alice,
            EntryPoint::Query,
            json!({"verify": {"document_id": "d1", "sha256": h('a')}}),
        ),
        (
            c,
            alice,
            EntryPoint::Query,
            json!({"document": {"document_id": "d1"}}),
        ),
        (
            c,
            alice,
            EntryPoint::Query,
            json!({"document": {"document_id": "missing"}}),
        ),
        (n, bob, EntryPoint::Execute, json!({"increment": {}})),
        (n, bob, EntryPoint::Execute, json!({"reset": {"count": 9}})),
        (n, alice, EntryPoint::Query, json!({"count": {}})),
    ];
    let calls: Vec<Value> = steps
        .into_iter()
        .map(|(contract, sender, entry, msg)| {
            let outcome = chain.call_raw(contract, sender, entry, msg.to_string().as_bytes());
            json!({ "msg": msg, "entry": format!("{entry:?}"), "outcome": describe(&outcome) })
        })
        .collect();
    json!({
        "custody_code_hash": custody_hash.to_string(),
        "counter_code_hash": counter_hash.to_string(),
        "calls": calls,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_FLAG) {
        let Some(out) = args.get(i + 1) else {
            return ExitCode::FAILURE;
        };
        let text = serde_json::to_string_pretty(&record()).expect("serialise");
        std::fs::write(out, text).expect("write child record");
        return ExitCode::SUCCESS;
    }

    let here = record();
    let tmp = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(std::env::current_exe().expect("current exe"))
        .arg(CHILD_FLAG)
        .arg(tmp.path())
        .status()
        .expect("spawn child");
    assert!(status.success(), "child process failed");
    let child: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path()).expect("read")).expect("json");

    let mut failed = 0;
    if here != child {
        eprintln!("FAILED: the child process computed a different record");
        failed += 1;
    }
    let text = serde_json::to_string_pretty(&here).expect("serialise") + "\n";
    if std::env::var_os("VELLUM_BLESS").is_some() {
        std::fs::write(GOLDEN, &text).expect("write golden");
        eprintln!("blessed {GOLDEN}");
    } else if !Path::new(GOLDEN).exists() {
        eprintln!("FAILED: {GOLDEN} is missing; run with VELLUM_BLESS=1 to create it");
        failed += 1;
    } else {
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(GOLDEN).expect("read golden"))
                .expect("golden json");
        if golden != here {
            eprintln!(
                "FAILED: consensus behaviour changed against {GOLDEN}.\nnow:\n{text}\nIf the change is intended, re-bless with VELLUM_BLESS=1."
            );
            failed += 1;
        }
    }
    println!(
        "test determinism ... {}",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    println!("determinism: {} passed, {failed} failed", 1 - failed.min(1));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
