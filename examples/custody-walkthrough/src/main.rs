//! Run with a node running (`cargo run --release -p vellum-node --bin vellum -- node`), then
//! `cargo run --release -p custody-walkthrough` (set `VELLUM_NODE` for another address).
//!
//! Builds the custody contract, deploys and instantiates it over HTTP with signed
//! transactions, walks a document through its life (register, a grant, a granted and a refused
//! access, a refused update, a transfer) and reads its history, from the contract and from the
//! node's event index. Fresh random keys each run, so it can run again on the same node.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vellum_node::client::{Client, address_hex, generate_key, output};

fn main() -> Result<()> {
    let url = std::env::var("VELLUM_NODE").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = Client::new(&url)?;
    let status = client
        .status()
        .with_context(|| format!("start a node first: cargo run --release -p vellum-node --bin vellum -- node (or set VELLUM_NODE; tried {url})"))?;
    println!(
        "node {url}: chain {}, height {}",
        status.chain_id, status.height
    );

    let wasm = vellum_testing::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/custody"
    ))
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("building the custody contract")?;
    let (hospital, doctor, insurer) = (generate_key()?, generate_key()?, generate_key()?);
    println!(
        "hospital {}\ndoctor   {}\ninsurer  {}",
        address_hex(&hospital),
        address_hex(&doctor),
        address_hex(&insurer)
    );

    let r = client.deploy(&hospital, &wasm)?;
    let code_hash = output(&r)["code_hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        "deployed {} bytes in block {}: code hash {code_hash}",
        wasm.len(),
        r.block_height
    );
    let r = client.instantiate(&hospital, &code_hash, &json!({}), "custody walkthrough")?;
    let custody = output(&r)["contract"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        "instantiated in block {}: contract {custody}",
        r.block_height
    );

    let record = b"discharge summary, patient 4711";
    let sha = hex::encode(Sha256::digest(record));
    let step = |who: &str, key, msg: Value| -> Result<Value> {
        let r = client.execute(key, &custody, &msg)?;
        let verdict = if r.success {
            "ok".to_string()
        } else {
            format!("FAILED: {}", r.error.clone().unwrap_or_default())
        };
        println!(
            "{who:>8}: {:<60} block {:>4}  {verdict}  {}",
            msg.to_string().chars().take(60).collect::<String>(),
            r.block_height,
            output(&r)
        );
        Ok(output(&r))
    };
    step(
        "hospital",
        &hospital,
        json!({"register": {"document_id": "record-4711", "sha256": sha, "metadata": "discharge summary"}}),
    )?;
    step(
        "hospital",
        &hospital,
        json!({"grant": {"document_id": "record-4711", "grantee": address_hex(&doctor)}}),
    )?;
    if step(
        "doctor",
        &doctor,
        json!({"access": {"document_id": "record-4711", "purpose": "follow-up"}}),
    )? != json!({"granted": true})
    {
        bail!("the doctor should have been granted access");
    }
    if step(
        "insurer",
        &insurer,
        json!({"access": {"document_id": "record-4711", "purpose": "claim"}}),
    )? != json!({"granted": false})
    {
        bail!("the insurer should have been refused");
    }
    step(
        "insurer",
        &insurer,
        json!({"update": {"document_id": "record-4711", "sha256": sha}}),
    )?;
    step(
        "hospital",
        &hospital,
        json!({"transfer": {"document_id": "record-4711", "new_custodian": address_hex(&doctor)}}),
    )?;

    println!("\nhistory (from the contract):");
    let history = client.query(
        &custody,
        &json!({"history": {"document_id": "record-4711"}}),
    )?;
    for e in history["entries"].as_array().into_iter().flatten() {
        println!(
            "  #{} block {} {:<14} by {}",
            e["seq"],
            e["block_height"],
            e["action"].as_str().unwrap_or("?"),
            e["actor"].as_str().unwrap_or("?")
        );
    }
    println!("events (from the node's index):");
    let page = client.events(&custody, "document_id", "record-4711", None, None)?;
    for e in &page.events {
        println!(
            "  block {} tx {} {}",
            e.block_height,
            &e.tx_hash[..16],
            e.event.ty
        );
    }
    let verified = client.query(
        &custody,
        &json!({"verify": {"document_id": "record-4711", "sha256": sha}}),
    )?;
    println!("the file on disk matches version {}", verified["version"]);
    Ok(())
}
