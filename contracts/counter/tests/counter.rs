//! The counter contract on the real runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use vellum_testing::{Failure, TestChain, account, build_contract};

#[test]
fn counts_and_only_the_creator_resets() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut chain = TestChain::new();
    let code = chain.deploy(&wasm).unwrap();
    let (alice, bob) = (account("alice"), account("bob"));
    let c = chain
        .instantiate(code, alice, &json!({"count": 5}))
        .unwrap();
    let out = chain.execute(c, bob, &json!({"increment": {}})).unwrap();
    assert_eq!(out.output, json!({"count": 6}));
    assert_eq!(out.events[0].ty, "count");
    assert!(out.fuel_used > 0);
    match chain.execute(c, bob, &json!({"reset": {"count": 0}})) {
        Err(Failure::ContractError(m)) => assert!(m.contains("creator"), "{m}"),
        other => panic!("bob reset the counter: {other:?}"),
    }
    chain
        .execute(c, alice, &json!({"reset": {"count": 100}}))
        .unwrap();
    assert_eq!(
        chain.query(c, &json!({"count": {}})).unwrap(),
        json!({"count": 100})
    );
    assert!(chain.query(c, &json!({"bogus": {}})).is_err());
}
