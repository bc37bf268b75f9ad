//! The shoot-out contract on the real runtime: every entry computes what its native twin does,
//! so the benchmark measures real work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use sha2::{Digest, Sha256};

use vellum_testing::{TestChain, account, build_contract};

#[test]
fn every_entry_does_its_work() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut chain = TestChain::new();
    let code = chain.deploy(&wasm).unwrap();
    let alice = account("alice");
    let c = chain.instantiate(code, alice, &json!({})).unwrap();

    let data = "x".repeat(200);
    let want = hex::encode(Sha256::digest(data.as_bytes()));
    for entry in ["store", "store_guest_hash"] {
        let id = format!("doc-{entry}");
        let out = chain
            .execute(c, alice, &json!({entry: {"id": id, "data": data}}))
            .unwrap();
        assert_eq!(out.output, json!(want), "{entry}");
        assert_eq!(
            chain.query(c, &json!({"digest": {"id": id}})).unwrap(),
            json!(want)
        );
    }

    let out = chain
        .execute(c, alice, &json!({"heavy": {"rounds": 3}}))
        .unwrap();
    assert_eq!(out.output, json!(hex::encode(bench::heavy(3))));
    let mut h = [0u8; 32];
    for _ in 0..3 {
        h = Sha256::digest(h).into();
    }
    assert_eq!(bench::heavy(3), h);

    let few = chain
        .execute(c, alice, &json!({"reads": {"n": 1}}))
        .unwrap();
    let many = chain
        .execute(c, alice, &json!({"reads": {"n": 100}}))
        .unwrap();
    assert_eq!(many.output, json!("0"));
    // Each read is a host call charged its base fuel.
    assert!(many.fuel_used > few.fuel_used + 99 * 1_000);
}
