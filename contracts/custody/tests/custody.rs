//! The custody contract, message by message, on the real runtime: every SPEC.md section 5
//! behaviour and every refusal, with the state checked to be unchanged after each refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use vellum_testing::{Address, Failure, TestChain, account, build_contract, hex_addr};

const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

struct Fixture {
    chain: TestChain,
    contract: Address,
    alice: Address,
    bob: Address,
    carol: Address,
}

fn setup() -> Fixture {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut chain = TestChain::new();
    let code = chain.deploy(&wasm).unwrap();
    let alice = account("alice");
    let contract = chain.instantiate(code, alice, &json!({})).unwrap();
    let mut f = Fixture {
        chain,
        contract,
        alice,
        bob: account("bob"),
        carol: account("carol"),
    };
    f.exec(
        f.alice,
        json!({"register": {"document_id": "d1", "sha256": H1, "metadata": {"kind": "x-ray"}}}),
    )
    .unwrap();
    f
}

impl Fixture {
    fn exec(&mut self, who: Address, msg: Value) -> Result<Value, Failure> {
        self.chain
            .execute(self.contract, who, &msg)
            .map(|e| e.output)
    }
    fn query(&mut self, msg: Value) -> Result<Value, Failure> {
        self.chain.query(self.contract, &msg)
    }
    fn doc(&mut self) -> Value {
        self.query(json!({"document": {"document_id": "d1"}}))
            .unwrap()
    }
    fn history(&mut self) -> Vec<Value> {
        let h = self
            .query(json!({"history": {"document_id": "d1"}}))
            .unwrap();
        h["entries"].as_array().unwrap().clone()
    }
    /// Runs a message that must fail, and checks that it changed nothing at all.
    fn refused(&mut self, who: Address, msg: Value) -> String {
        let before = self.chain.storage(&self.contract).unwrap().clone();
        let err = match self.exec(who, msg.clone()) {
            Err(Failure::ContractError(m)) => m,
            other => panic!("{msg} should fail with a contract error, got {other:?}"),
        };
        assert_eq!(
            self.chain.storage(&self.contract).unwrap(),
            &before,
            "{msg} changed state"
        );
        err
    }
}

#[test]
fn register_makes_the_signer_custodian_of_version_1() {
    let mut f = setup();
    let d = f.doc();
    assert_eq!(d["custodian"], hex_addr(&f.alice));
    assert_eq!(d["sha256"], H1);
    assert_eq!(d["version"], 1);
    assert_eq!(d["grantees"], json!([]));
    assert_eq!(d["metadata"], json!({"kind": "x-ray"}));
    let h = f.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["seq"], 0);
    assert_eq!(h[0]["action"], "register");
    assert_eq!(h[0]["actor"], hex_addr(&f.alice));
    assert_eq!(h[0]["sha256"], H1);
    assert!(h[0]["block_height"].as_u64().unwrap() > 0);
    assert_eq!(h[0]["tx_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn register_emits_an_indexable_event() {
    let mut f = setup();
    let out = f
        .chain
        .execute(
            f.contract,
            f.bob,
            &json!({"register": {"document_id": "d2", "sha256": H2}}),
        )
        .unwrap();
    assert_eq!(out.output, json!({"document_id": "d2", "version": 1}));
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].ty, "register");
    assert!(
        out.events[0]
            .attributes
            .contains(&("document_id".into(), "d2".into()))
    );
    assert!(
        out.events[0]
            .attributes
            .contains(&("actor".into(), hex_addr(&f.bob)))
    );
}

#[test]
fn a_taken_id_cannot_be_registered_again() {
    let mut f = setup();
    let e = f.refused(
        f.bob,
        json!({"register": {"document_id": "d1", "sha256": H2}}),
    );
    assert!(e.contains("already registered"), "{e}");
    assert_eq!(f.doc()["custodian"], hex_addr(&f.alice));
}

#[test]
fn malformed_hashes_and_ids_are_errors() {
    let mut f = setup();
    for bad in [
        "",
        "abc",
        &H1[..63],
        &format!("{H1}0"),
        &H1.replace('1', "g"),
    ] {
        let e = f.refused(
            f.alice,
            json!({"register": {"document_id": "d9", "sha256": bad}}),
        );
        assert!(e.contains("sha256"), "{e}");
        let e = f.refused(
            f.alice,
            json!({"update": {"document_id": "d1", "sha256": bad}}),
        );
        assert!(e.contains("sha256"), "{e}");
    }
    f.refused(
        f.alice,
        json!({"register": {"document_id": "", "sha256": H1}}),
    );
    f.refused(
        f.alice,
        json!({"register": {"document_id": "x".repeat(257), "sha256": H1}}),
    );
    let e = f.refused(
        f.alice,
        json!({"grant": {"document_id": "d1", "grantee": "not-an-address"}}),
    );
    assert!(e.contains("invalid"), "{e}");
    f.refused(f.alice, json!({"no_such_message": {}}));
    f.refused(f.alice, json!({"register": {"document_id": "d9"}}));
    // Upper-case hex is accepted and stored in lower case.
    f.exec(
        f.alice,
        json!({"register": {"document_id": "up", "sha256": H1.replace('1', "A")}}),
    )
    .unwrap();
    let d = f.query(json!({"document": {"document_id": "up"}})).unwrap();
    assert_eq!(d["sha256"], H1.replace('1', "a"));
}

#[test]
fn unknown_documents_are_errors_everywhere() {
    let mut f = setup();
    let bob = hex_addr(&f.bob);
    for msg in [
        json!({"update": {"document_id": "nope", "sha256": H2}}),
        json!({"grant": {"document_id": "nope", "grantee": bob}}),
        json!({"revoke": {"document_id": "nope", "grantee": bob}}),
        json!({"access": {"document_id": "nope", "purpose": "p"}}),
        json!({"transfer": {"document_id": "nope", "new_custodian": bob}}),
    ] {
        let e = f.refused(f.alice, msg);
        assert!(e.contains("not found"), "{e}");
    }
    for q in [
        json!({"document": {"document_id": "nope"}}),
        json!({"history": {"document_id": "nope"}}),
        json!({"verify": {"document_id": "nope", "sha256": H1}}),
    ] {
        match f.query(q) {
            Err(Failure::ContractError(m)) => assert!(m.contains("not found"), "{m}"),
            other => panic!("unknown document query answered {other:?}"),
        }
    }
}

#[test]
fn update_adds_versions_for_the_custodian_only() {
    let mut f = setup();
    let e = f.refused(
        f.bob,
        json!({"update": {"document_id": "d1", "sha256": H2}}),
    );
    assert!(e.contains("unauthorized"), "{e}");
    assert_eq!(
        f.exec(
            f.alice,
            json!({"update": {"document_id": "d1", "sha256": H2}})
        )
        .unwrap()["version"],
        2
    );
    let d = f.doc();
    assert_eq!(
        (d["sha256"].as_str(), d["version"].as_u64()),
        (Some(H2), Some(2))
    );
    assert_eq!(f.history()[1]["action"], "update");
    assert_eq!(f.history()[1]["version"], 2);
}

#[test]
fn grant_revoke_and_access() {
    let mut f = setup();
    let (alice, bob, carol) = (f.alice, f.bob, f.carol);
    let bob_hex = hex_addr(&bob);
    // Non-custodians may not grant or revoke.
    assert!(
        f.refused(
            bob,
            json!({"grant": {"document_id": "d1", "grantee": bob_hex}})
        )
        .contains("unauthorized")
    );
    // Bob is denied before the grant, and that is recorded.
    assert_eq!(
        f.exec(
            bob,
            json!({"access": {"document_id": "d1", "purpose": "curious"}})
        )
        .unwrap(),
        json!({"granted": false})
    );
    f.exec(
        alice,
        json!({"grant": {"document_id": "d1", "grantee": bob_hex}}),
    )
    .unwrap();
    assert_eq!(f.doc()["grantees"], json!([bob_hex]));
    assert_eq!(
        f.exec(
            bob,
            json!({"access": {"document_id": "d1", "purpose": "treatment"}})
        )
        .unwrap(),
        json!({"granted": true})
    );
    assert_eq!(
        f.exec(
            alice,
            json!({"access": {"document_id": "d1", "purpose": "own"}})
        )
        .unwrap(),
        json!({"granted": true})
    );
    assert_eq!(
        f.exec(
            carol,
            json!({"access": {"document_id": "d1", "purpose": "x"}})
        )
        .unwrap(),
        json!({"granted": false})
    );
    assert!(
        f.refused(
            carol,
            json!({"revoke": {"document_id": "d1", "grantee": bob_hex}})
        )
        .contains("unauthorized")
    );
    f.exec(
        alice,
        json!({"revoke": {"document_id": "d1", "grantee": bob_hex}}),
    )
    .unwrap();
    assert_eq!(f.doc()["grantees"], json!([]));
    // Revoking someone without a grant is an error.
    assert!(
        f.refused(
            alice,
            json!({"revoke": {"document_id": "d1", "grantee": bob_hex}})
        )
        .contains("no grant")
    );
    assert_eq!(
        f.exec(
            bob,
            json!({"access": {"document_id": "d1", "purpose": "again"}})
        )
        .unwrap(),
        json!({"granted": false})
    );

    let actions: Vec<String> = f
        .history()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "register",
            "access_denied",
            "grant",
            "access",
            "access",
            "access_denied",
            "revoke",
            "access_denied"
        ]
    );
    let h = f.history();
    assert_eq!(h[1]["actor"], bob_hex);
    assert_eq!(h[1]["purpose"], "curious");
    assert_eq!(h[2]["grantee"], bob_hex);
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e["seq"], i as u64);
    }
    // Heights increase strictly: one transaction per block in the harness.
    assert!(
        h.windows(2)
            .all(|w| w[0]["block_height"].as_u64() < w[1]["block_height"].as_u64())
    );
}

#[test]
fn transfer_moves_custody() {
    let mut f = setup();
    let (alice, bob, carol) = (f.alice, f.bob, f.carol);
    let carol_hex = hex_addr(&carol);
    assert!(
        f.refused(
            bob,
            json!({"transfer": {"document_id": "d1", "new_custodian": hex_addr(&bob)}})
        )
        .contains("unauthorized")
    );
    f.exec(
        alice,
        json!({"transfer": {"document_id": "d1", "new_custodian": carol_hex}}),
    )
    .unwrap();
    assert_eq!(f.doc()["custodian"], carol_hex);
    // The old custodian lost every custodian right, and access.
    assert!(
        f.refused(
            alice,
            json!({"update": {"document_id": "d1", "sha256": H2}})
        )
        .contains("unauthorized")
    );
    assert!(
        f.refused(
            alice,
            json!({"transfer": {"document_id": "d1", "new_custodian": hex_addr(&alice)}})
        )
        .contains("unauthorized")
    );
    assert_eq!(
        f.exec(
            alice,
            json!({"access": {"document_id": "d1", "purpose": "p"}})
        )
        .unwrap(),
        json!({"granted": false})
    );
    f.exec(
        carol,
        json!({"update": {"document_id": "d1", "sha256": H2}}),
    )
    .unwrap();
    let h = f.history();
    assert_eq!(h[1]["action"], "transfer");
    assert_eq!(h[1]["new_custodian"], carol_hex);
    assert_eq!(h[1]["from"], hex_addr(&alice));
}

#[test]
fn verify_names_the_matching_version() {
    let mut f = setup();
    f.exec(
        f.alice,
        json!({"update": {"document_id": "d1", "sha256": H2}}),
    )
    .unwrap();
    let v = |f: &mut Fixture, h: &str| {
        f.query(json!({"verify": {"document_id": "d1", "sha256": h}}))
            .unwrap()
    };
    assert_eq!(v(&mut f, H1), json!({"matches": true, "version": 1}));
    assert_eq!(v(&mut f, H2), json!({"matches": true, "version": 2}));
    let h3 = "3".repeat(64);
    assert_eq!(v(&mut f, &h3), json!({"matches": false, "version": null}));
    assert!(
        f.query(json!({"verify": {"document_id": "d1", "sha256": "zz"}}))
            .is_err()
    );
}

#[test]
fn history_pages_with_start_after_and_limit() {
    let mut f = setup();
    for i in 0..24 {
        f.exec(
            f.bob,
            json!({"access": {"document_id": "d1", "purpose": format!("p{i}")}}),
        )
        .unwrap();
    }
    // Another document's history must not leak into d1's pages.
    f.exec(
        f.bob,
        json!({"register": {"document_id": "d10", "sha256": H1}}),
    )
    .unwrap();
    let page = |f: &mut Fixture, after: Option<u64>, limit: u32| -> Vec<u64> {
        let mut q = json!({"history": {"document_id": "d1", "limit": limit}});
        if let Some(a) = after {
            q["history"]["start_after"] = json!(a);
        }
        f.query(q).unwrap()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(page(&mut f, None, 10), (0..10).collect::<Vec<_>>());
    assert_eq!(page(&mut f, Some(9), 10), (10..20).collect::<Vec<_>>());
    assert_eq!(page(&mut f, Some(19), 10), (20..25).collect::<Vec<_>>());
    assert!(page(&mut f, Some(24), 10).is_empty());
    assert_eq!(page(&mut f, None, 0), Vec::<u64>::new());
    assert_eq!(f.history().len(), 25);
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let p = page(&mut f, after, 7);
        if p.is_empty() {
            break;
        }
        after = p.last().copied();
        all.extend(p);
    }
    assert_eq!(all, (0..25).collect::<Vec<_>>());
}

#[test]
fn queries_cannot_write() {
    let mut f = setup();
    // `document` etc. are read-only by construction; an execute message sent as a query is a
    // parse error, not a write.
    assert!(
        f.query(json!({"register": {"document_id": "q", "sha256": H1}}))
            .is_err()
    );
    assert!(f.query(json!({"document": {"document_id": "q"}})).is_err());
}

#[test]
fn the_release_artifact_is_small() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR")).unwrap();
    assert!(
        wasm.len() < 200 * 1024,
        "custody.wasm is {} bytes",
        wasm.len()
    );
}
