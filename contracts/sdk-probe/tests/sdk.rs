//! The SDK on the real runtime: panics reach the caller with their message, the host's SHA-256
//! and secp256k1 verification, the `Env`, item removal, events, and map paging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use vellum_testing::{Failure, TestChain, account, build_contract, hex_addr};

fn setup() -> (TestChain, [u8; 20]) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut chain = TestChain::new();
    let code = chain.deploy(&wasm).unwrap();
    let c = chain
        .instantiate(code, account("owner"), &json!({}))
        .unwrap();
    (chain, c)
}

#[test]
fn a_rust_panic_reaches_the_caller_with_its_message() {
    let (mut chain, c) = setup();
    match chain.execute(
        c,
        account("a"),
        &json!({"panic": {"message": "the vault is sealed"}}),
    ) {
        Err(Failure::Panic(m)) => assert!(m.contains("the vault is sealed"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_carries_the_call_context() {
    let (mut chain, c) = setup();
    let caller = account("someone");
    let out = chain
        .execute(c, caller, &json!({"env": {}}))
        .unwrap()
        .output;
    assert_eq!(out["caller"], hex_addr(&caller));
    assert_eq!(out["contract"], hex_addr(&c));
    assert_eq!(out["block_height"], chain.height);
    assert_eq!(out["block_time_ms"], chain.time_ms);
    assert_eq!(out["tx_hash"].as_str().unwrap().len(), 64);
    assert_ne!(out["tx_hash"], "0".repeat(64));
}

#[test]
fn host_sha256_and_secp256k1_verify() {
    let (mut chain, c) = setup();
    let h = chain.query(c, &json!({"sha256": {"data": "abc"}})).unwrap();
    assert_eq!(h, hex::encode(Sha256::digest(b"abc")));

    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let digest: [u8; 32] = Sha256::digest(b"document").into();
    let sig: Signature = key.sign_prehash(&digest).unwrap();
    let sig = sig.normalize_s();
    let pk = hex::encode(key.verifying_key().to_sec1_point(true).as_bytes());
    let q = |d: &[u8; 32], s: &Signature| json!({"verify": {"digest": hex::encode(d), "signature": hex::encode(s.to_bytes()), "public_key": pk}});
    assert_eq!(chain.query(c, &q(&digest, &sig)).unwrap(), json!(true));
    let mut other = digest;
    other[0] ^= 1;
    assert_eq!(chain.query(c, &q(&other, &sig)).unwrap(), json!(false));
    // The high-S twin is refused, as for transactions.
    let high = Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    assert_eq!(chain.query(c, &q(&digest, &high)).unwrap(), json!(false));
}

#[test]
fn items_are_removed_events_emitted_and_maps_paged() {
    let (mut chain, c) = setup();
    let a = account("a");
    assert_eq!(
        chain
            .execute(c, a, &json!({"note": {"text": "kept", "remove": false}}))
            .unwrap()
            .output,
        json!("kept")
    );
    assert_eq!(
        chain
            .execute(c, a, &json!({"note": {"text": "gone", "remove": true}}))
            .unwrap()
            .output,
        json!(null)
    );
    assert_eq!(chain.query(c, &json!({"note": {}})).unwrap(), json!(null));

    let out = chain
        .execute(c, a, &json!({"log": {"line": "hello"}}))
        .unwrap();
    assert_eq!(out.events[0].ty, "logged");
    assert_eq!(
        out.events[0].attributes,
        vec![("line".to_string(), "hello".to_string())]
    );

    chain
        .execute(
            c,
            a,
            &json!({"numbers": {"values": [300, 2, 1000, 7, 256]}}),
        )
        .unwrap();
    let mut page = |after: Option<u64>| {
        chain
            .query(c, &json!({"numbers": {"start_after": after, "limit": 2}}))
            .unwrap()
    };
    assert_eq!(page(None), json!([[2, "n2"], [7, "n7"]]));
    assert_eq!(page(Some(7)), json!([[256, "n256"], [300, "n300"]]));
    assert_eq!(page(Some(300)), json!([[1000, "n1000"]]));
}
