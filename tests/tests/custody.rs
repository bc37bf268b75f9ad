//! The document-custody flow of SPEC.md section 5 against the real `vellum` binary over real
//! HTTP: once through the typed client, once through the CLI. Each starts its own node on a
//! free loopback port with a fresh data directory, stops it with SIGTERM, verifies the data
//! directory from genesis and checks that a restarted node serves the same chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k256::ecdsa::SigningKey;
use serde_json::{Value, json};
use vellum_e2e::{Node, vellum, vellum_json, vellum_ok, workspace};
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, address_hex, output};

const DOC: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&vellum_node::chain::sha256(&[seed.as_bytes()])).unwrap()
}

fn actions(history: &Value) -> Vec<String> {
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

const EXPECTED_HISTORY: [&str; 5] = ["register", "grant", "access", "access_denied", "transfer"];

#[test]
fn custody_flow_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"));
    let client = Client::new(&node.url).unwrap();
    let (alice, bob, carol) = (key("alice"), key("bob"), key("carol"));
    assert_eq!(client.status().unwrap().chain_id, "vellum-dev");

    let wasm = vellum_testing::build_contract(workspace().join("contracts/custody")).unwrap();
    let r = client.deploy(&alice, &wasm).unwrap();
    assert!(r.success, "{:?}", r.error);
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = client
        .instantiate(&alice, &code_hash, &json!({}), "custody")
        .unwrap();
    assert!(r.success, "{:?}", r.error);
    let custody = output(&r)["contract"].as_str().unwrap().to_string();
    let info = client.contract(&custody).unwrap();
    assert_eq!(
        (info.code_hash.as_str(), info.label.as_str()),
        (code_hash.as_str(), "custody")
    );
    assert_eq!(info.creator, address_hex(&alice));

    let run = |k: &SigningKey, msg: Value| {
        let r = client.execute(k, &custody, &msg).unwrap();
        (r.success, output(&r), r)
    };
    let (ok, _, register) = run(
        &alice,
        json!({"register": {"document_id": "d1", "sha256": DOC}}),
    );
    assert!(ok);
    assert!(
        run(
            &alice,
            json!({"grant": {"document_id": "d1", "grantee": address_hex(&bob)}})
        )
        .0
    );
    let (ok, answer, _) = run(
        &bob,
        json!({"access": {"document_id": "d1", "purpose": "treatment"}}),
    );
    assert!(ok);
    assert_eq!(answer, json!({"granted": true}));
    let (ok, answer, _) = run(
        &carol,
        json!({"access": {"document_id": "d1", "purpose": "curious"}}),
    );
    assert!(ok, "a denied access is recorded, not failed");
    assert_eq!(answer, json!({"granted": false}));
    // Carol is not the custodian: a failed transaction that consumes her nonce and changes
    // nothing.
    let (ok, _, failed) = run(
        &carol,
        json!({"update": {"document_id": "d1", "sha256": DOC}}),
    );
    assert!(!ok);
    assert!(
        failed.error.as_deref().unwrap().contains("unauthorized"),
        "{:?}",
        failed.error
    );
    assert_eq!(client.next_nonce(&address_hex(&carol)).unwrap(), 2);
    assert!(
        run(
            &alice,
            json!({"transfer": {"document_id": "d1", "new_custodian": address_hex(&bob)}})
        )
        .0
    );

    let doc = client
        .query(&custody, &json!({"document": {"document_id": "d1"}}))
        .unwrap();
    assert_eq!(doc["custodian"], address_hex(&bob));
    assert_eq!(doc["version"], 1);
    let history = client
        .query(&custody, &json!({"history": {"document_id": "d1"}}))
        .unwrap();
    assert_eq!(actions(&history), EXPECTED_HISTORY);
    assert_eq!(history["entries"][3]["actor"], address_hex(&carol));
    let verified = client
        .query(
            &custody,
            &json!({"verify": {"document_id": "d1", "sha256": DOC}}),
        )
        .unwrap();
    assert_eq!(verified, json!({"matches": true, "version": 1}));
    let err = client
        .query(&custody, &json!({"document": {"document_id": "unknown"}}))
        .unwrap_err();
    assert_eq!(err.code(), Some("contract_error"));

    // The event index pages through the same five entries.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = client
            .events(&custody, "document_id", "d1", after.as_deref(), Some(2))
            .unwrap();
        seen.extend(page.events.iter().map(|e| e.event.ty.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, EXPECTED_HISTORY);

    let tx = client.transaction(&register.tx_hash).unwrap();
    assert_eq!(tx.status, "committed");
    assert_eq!(tx.receipt.unwrap().block_height, register.block_height);
    // Bulk registration: two of carol's documents in one request, consecutive nonces in order.
    let chain_id = client.chain_id().unwrap();
    let next = client.next_nonce(&address_hex(&carol)).unwrap();
    let envelopes: Vec<_> = ["d2", "d3"]
        .iter()
        .enumerate()
        .map(|(nonce, doc)| {
            let action = Action::Execute {
                contract: custody.clone(),
                msg: serde_json::value::to_raw_value(
                    &json!({"register": {"document_id": doc, "sha256": DOC}}),
                )
                .unwrap(),
            };
            let payload = payload_json(
                &chain_id,
                &address_of_signing_key(&carol),
                next + nonce as u64,
                None,
                &action,
            );
            sign(&payload, &carol)
        })
        .collect();
    let items = client.submit_batch(&envelopes, true).unwrap();
    assert_eq!(items.len(), 2);
    for item in &items {
        assert_eq!(item.status, "committed", "{:?}", item.error);
        assert!(item.receipt.as_ref().is_some_and(|r| r.success), "{item:?}");
    }
    let owner = client
        .query(&custody, &json!({"document": {"document_id": "d3"}}))
        .unwrap();
    assert_eq!(owner["custodian"], address_hex(&carol), "{owner}");

    let latest = client.latest_block().unwrap();
    assert_eq!(
        latest.prev_hash,
        client.block(latest.height - 1).unwrap().hash
    );

    let log = node.stop();
    assert!(log.contains("shut down cleanly"), "{log}");
    let data = dir.path().join("data");
    let report = vellum_json(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["txs"], 10);
    assert_eq!(report["blocks"], latest.height);

    // A restarted node serves the same chain.
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    assert_eq!(client.status().unwrap().latest_hash, latest.hash);
    let again = client
        .query(&custody, &json!({"history": {"document_id": "d1"}}))
        .unwrap();
    assert_eq!(again, history);
    node.stop();
}

#[test]
fn custody_flow_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"));
    let keys = dir.path().join("keys");
    let keys = keys.to_str().unwrap();
    let url = node.url.clone();
    let with = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend([
            "--node".into(),
            url.clone(),
            "--keys-dir".into(),
            keys.into(),
        ]);
        all
    };
    let json_of = |args: &[&str]| {
        let all = with(args);
        vellum_json(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let mut addresses = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let k = json_of(&["keys", "new", name]);
        assert_eq!(k["address"].as_str().unwrap().len(), 40);
        addresses.push(k["address"].as_str().unwrap().to_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(k["path"].as_str().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "key files are private");
        }
    }
    let (bob, carol) = (&addresses[1], &addresses[2]);
    // Creating a key twice refuses rather than overwrites.
    let again = vellum(
        &with(&["keys", "new", "alice"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!again.status.success());
    let listed = json_of(&["keys", "list"]);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3);

    let built = vellum_ok(&[
        "contract",
        "build",
        workspace().join("contracts/custody").to_str().unwrap(),
    ]);
    let wasm = built.lines().last().unwrap().trim().to_string();
    assert!(wasm.ends_with(".wasm"), "{built}");

    let r = json_of(&["deploy", "--from", "alice", &wasm]);
    let code_hash = r["output"]["code_hash"].as_str().unwrap().to_string();
    let r = json_of(&[
        "instantiate",
        "--from",
        "alice",
        &code_hash,
        "--label",
        "custody",
    ]);
    let custody = r["output"]["contract"].as_str().unwrap().to_string();

    let call =
        |from: &str, msg: Value| json_of(&["call", "--from", from, &custody, &msg.to_string()]);
    let register = call(
        "alice",
        json!({"register": {"document_id": "d1", "sha256": DOC}}),
    );
    assert_eq!(register["success"], true);
    call(
        "alice",
        json!({"grant": {"document_id": "d1", "grantee": bob}}),
    );
    let granted = call(
        "bob",
        json!({"access": {"document_id": "d1", "purpose": "treatment"}}),
    );
    assert_eq!(granted["output"], json!({"granted": true}));
    let denied = call(
        "carol",
        json!({"access": {"document_id": "d1", "purpose": "curious"}}),
    );
    assert_eq!(denied["output"], json!({"granted": false}));
    // A failed transaction: exit status 1, and the reason on stderr.
    let failed = vellum(
        &with(&[
            "call",
            "--from",
            "carol",
            &custody,
            &json!({"update": {"document_id": "d1", "sha256": DOC}}).to_string(),
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("FAILED"));
    call(
        "alice",
        json!({"transfer": {"document_id": "d1", "new_custodian": bob}}),
    );

    let history = json_of(&["history", &custody, "d1"]);
    assert_eq!(actions(&history), EXPECTED_HISTORY);
    assert_eq!(history["entries"][3]["actor"], carol.as_str());
    let human = vellum_ok(
        &with(&["history", &custody, "d1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(human.lines().count(), 5, "{human}");
    assert!(human.contains("access_denied"), "{human}");
    let doc = json_of(&["query", &custody, r#"{"document": {"document_id": "d1"}}"#]);
    assert_eq!(doc["custodian"], bob.as_str());
    let tx = json_of(&["tx", register["tx_hash"].as_str().unwrap()]);
    assert_eq!(tx["status"], "committed");
    assert_eq!(tx["receipt"]["events"][0]["type"], "register");
    let status = json_of(&["status"]);
    assert_eq!(status["chain_id"], "vellum-dev");

    // Errors say what to do, in JSON for scripts.
    let missing = vellum(
        &with(&["call", "--from", "nobody", &custody, "{}", "--json"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!missing.status.success());
    let err: Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("vellum keys new nobody"),
        "{err}"
    );
    let bad = vellum(
        &with(&["query", &custody, "{not json"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not JSON"));

    let height = status["height"].as_u64().unwrap();
    node.stop();
    let data = dir.path().join("data");
    let human = vellum_ok(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert!(human.starts_with("ok:"), "{human}");
    let report = vellum_json(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(report["blocks"], height);
    assert_eq!(report["txs"], 8);
    // A directory that holds no chain is refused with a hint, and is not created.
    let empty = dir.path().join("empty");
    let out = vellum(&["verify", "--data-dir", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no chain"));
    assert!(!empty.exists());
    // Talking to a node that is not there names the problem.
    let out = vellum(&["status", "--node", "http://127.0.0.1:1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `vellum node` running"));
}
