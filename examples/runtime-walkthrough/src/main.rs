//! Run with `cargo run --release -p runtime-walkthrough`.
//!
//! Builds the custody contract to wasm, runs it on the real runtime in this process (the same
//! engine, limits and host functions as the node), and walks a document through its life:
//! register, a refused access, a grant, an access, a revoke, a transfer, then reads the history
//! and verifies a file's hash.

use anyhow::{Context, Result, anyhow};
use serde_json::json;
use sha2::{Digest, Sha256};
use vellum_testing::{TestChain, account, build_contract, hex_addr};

fn main() -> Result<()> {
    let wasm = build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/custody"
    ))
    .context("building the custody contract")?;
    println!("custody.wasm: {} bytes", wasm.len());

    let mut chain = TestChain::new();
    let code = chain.deploy(&wasm)?;
    println!("deployed, code hash {code}");
    let (hospital, doctor, insurer, archive) = (
        account("hospital"),
        account("doctor"),
        account("insurer"),
        account("archive"),
    );
    let fail = |f| anyhow!("{f}");
    let custody = chain
        .instantiate(code, hospital, &json!({}))
        .map_err(fail)?;

    let scan = b"pretend these are the bytes of a scan";
    let sha = hex::encode(Sha256::digest(scan));
    let steps = [
        (
            hospital,
            json!({"register": {"document_id": "scan-42", "sha256": sha, "metadata": {"patient": "p-7"}}}),
        ),
        (
            insurer,
            json!({"access": {"document_id": "scan-42", "purpose": "claim review"}}),
        ),
        (
            hospital,
            json!({"grant": {"document_id": "scan-42", "grantee": hex_addr(&doctor)}}),
        ),
        (
            doctor,
            json!({"access": {"document_id": "scan-42", "purpose": "diagnosis"}}),
        ),
        (
            hospital,
            json!({"revoke": {"document_id": "scan-42", "grantee": hex_addr(&doctor)}}),
        ),
        (
            hospital,
            json!({"transfer": {"document_id": "scan-42", "new_custodian": hex_addr(&archive)}}),
        ),
    ];
    for (who, msg) in steps {
        let out = chain.execute(custody, who, &msg).map_err(fail)?;
        println!("{msg} -> {} (fuel {})", out.output, out.fuel_used);
    }

    let history = chain
        .query(custody, &json!({"history": {"document_id": "scan-42"}}))
        .map_err(fail)?;
    println!("history:");
    for e in history["entries"].as_array().into_iter().flatten() {
        println!(
            "  #{} {:<14} by {} at height {}",
            e["seq"],
            e["action"].as_str().unwrap_or("?"),
            e["actor"],
            e["block_height"]
        );
    }
    let verdict = chain
        .query(
            custody,
            &json!({"verify": {"document_id": "scan-42", "sha256": sha}}),
        )
        .map_err(fail)?;
    println!("verify the file's hash: {verdict}");
    Ok(())
}
