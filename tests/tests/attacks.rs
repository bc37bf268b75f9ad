//! Attacks against a running node (issue 6, item 5): the real `vellum node` binary on a free
//! loopback port, attacked over real HTTP and raw TCP. Every case asserts the node's answer and
//! that nothing changed that should not have: account nonces, the chain tip and its transactions,
//! the custody document's state and history, the refused transaction unknown to the node.
//!
//! - Transactions: the replay of a committed and of a pending transaction, the high-S twin of a
//!   valid signature, a wrong chain id, stale, duplicate and gapped nonces, a signature over other
//!   bytes (another payload, the same payload re-serialised), a signer that is not the key's
//!   address, a signature by another key.
//! - Custody: the same document registered twice in one block by two accounts (the first in
//!   block order wins, whichever account it is), a grantee after revocation, a former custodian
//!   after a transfer.
//! - HTTP: oversized bodies (declared and streamed), a body sent slowly, headers sent slowly, a
//!   connection that sends nothing, JSON nested 100,000 deep (as a query, as an envelope, inside a
//!   signed payload), more requests than the node admits, more connections than it admits, and
//!   3,000 concurrent connections.
//!
//! Each test prints the cases it tried (`attack case: ...`); `docs/security.md` lists them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use k256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use vellum_e2e::{Node, workspace};
use vellum_node::chain::block::Receipt;
use vellum_node::chain::tx::{Action, Envelope, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, ClientError, address_hex, output};

const DOC: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";
const DOC2: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
/// Depth of the nested JSON sent by the nesting attacks.
const NESTING_DEPTH: usize = 100_000;
/// Concurrent connections opened by the connection flood.
const FLOOD_CONNECTIONS: usize = 3_000;

fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&vellum_node::chain::sha256(&[seed.as_bytes()])).unwrap()
}

/// Counts and prints the cases a test tries.
struct Cases {
    test: &'static str,
    tried: usize,
}

impl Cases {
    fn new(test: &'static str) -> Self {
        Self { test, tried: 0 }
    }

    fn tried(&mut self, case: &str) {
        self.tried += 1;
        println!("attack case: {} / {case}", self.test);
    }
}

impl Drop for Cases {
    fn drop(&mut self) {
        println!("attack cases tried in {}: {}", self.test, self.tried);
    }
}

/// A node with an instantiated custody contract.
struct Chain {
    node: Node,
    client: Client,
    chain_id: String,
    custody: String,
    _dir: tempfile::TempDir,
}

impl Chain {
    fn start(config: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let node = match config {
            Some(c) => Node::start_with_config(&data, c),
            None => Node::start(&data),
        };
        let client = Client::new(&node.url).unwrap();
        let chain_id = client.chain_id().unwrap();
        let admin = key("admin");
        let wasm = vellum_testing::build_contract(workspace().join("contracts/custody")).unwrap();
        let r = client.deploy(&admin, &wasm).unwrap();
        assert!(r.success, "{:?}", r.error);
        let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
        let r = client
            .instantiate(&admin, &code_hash, &json!({}), "custody")
            .unwrap();
        assert!(r.success, "{:?}", r.error);
        let custody = output(&r)["contract"].as_str().unwrap().to_string();
        Self {
            node,
            client,
            chain_id,
            custody,
            _dir: dir,
        }
    }

    /// An execute transaction on `contract`, signed by `key` with `nonce`, as the exact payload
    /// text and envelope.
    fn execute_on(
        &self,
        contract: &str,
        key: &SigningKey,
        nonce: u64,
        fuel_limit: Option<u64>,
        msg: &Value,
    ) -> Envelope {
        let action = Action::Execute {
            contract: contract.into(),
            msg: serde_json::value::to_raw_value(msg).unwrap(),
        };
        let signer = address_of_signing_key(key);
        sign(
            &payload_json(&self.chain_id, &signer, nonce, fuel_limit, &action),
            key,
        )
    }

    fn execute(&self, key: &SigningKey, nonce: u64, msg: &Value) -> Envelope {
        self.execute_on(&self.custody, key, nonce, None, msg)
    }

    /// Sends a custody message with the account's next nonce and waits for its receipt.
    fn run(&self, key: &SigningKey, msg: &Value) -> Receipt {
        self.client.execute(key, &self.custody, msg).unwrap()
    }

    fn query(&self, msg: &Value) -> Result<Value, String> {
        self.client
            .query(&self.custody, msg)
            .map_err(|e| e.code().unwrap_or("unreachable").to_string())
    }

    /// Everything an attack could change: the tip and its transactions, the accounts' nonces,
    /// the document's state and its whole history.
    fn view(&self, document_id: &str, accounts: &[&SigningKey]) -> Value {
        let tip = self.client.latest_block().unwrap();
        let nonces: Vec<u64> = accounts
            .iter()
            .map(|k| self.client.next_nonce(&address_hex(k)).unwrap())
            .collect();
        json!({
            "height": tip.height,
            "hash": tip.hash,
            "state_root": tip.state_root,
            "tx_hashes": tip.tx_hashes,
            "nonces": nonces,
            "document": self.query(&json!({"document": {"document_id": document_id}})),
            "history": self.query(&json!({"history": {"document_id": document_id, "limit": 1000}})),
        })
    }

    /// Submits `envelope` and asserts the SPEC refusal `(status, code)`.
    fn refused(&self, envelope: &Envelope, status: u16, code: &str, case: &str) {
        match self.client.submit(envelope) {
            Err(ClientError::Api {
                status: s, code: c, ..
            }) => assert_eq!((s, c.as_str()), (status, code), "{case}"),
            other => panic!("{case}: expected HTTP {status} {code}, got {other:?}"),
        }
    }

    /// Asserts that the node knows no transaction with the hash of `envelope`'s payload.
    fn unknown(&self, envelope: &Envelope, case: &str) {
        let hash = tx_hash(envelope);
        match self.client.transaction(&hash) {
            Err(ClientError::Api { status: 404, .. }) => {}
            other => panic!("{case}: a refused transaction is known to the node: {other:?}"),
        }
    }

    fn wait_receipt(&self, hash: &str) -> Receipt {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let info = self.client.transaction(hash).unwrap();
            if let Some(r) = info.receipt {
                return r;
            }
            assert!(Instant::now() < deadline, "{hash} not committed in 60 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn tx_hash(envelope: &Envelope) -> String {
    hex::encode(vellum_node::chain::sha256(&[envelope.payload.as_bytes()]))
}

fn register(id: &str) -> Value {
    json!({"register": {"document_id": id, "sha256": DOC}})
}

fn history_actions(history: &Value) -> Vec<String> {
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Transactions.

#[test]
fn forged_replayed_and_misnumbered_transactions_are_refused_and_change_nothing() {
    let c = Chain::start(None);
    let mut cases = Cases::new("transactions");
    let (alice, mallory) = (key("alice"), key("mallory"));
    let first = c.execute(&alice, 0, &register("d1"));
    assert!(c.client.submit_wait(&first).unwrap().success);
    let before = c.view("d1", &[&alice, &mallory]);
    let unchanged = |case: &str| {
        assert_eq!(
            c.view("d1", &[&alice, &mallory]),
            before,
            "{case} changed state"
        );
    };

    // The replay of a committed transaction: the node knows its hash.
    c.refused(
        &first,
        409,
        "duplicate_transaction",
        "replay of a committed tx",
    );
    assert_eq!(
        c.client.transaction(&tx_hash(&first)).unwrap().status,
        "committed"
    );
    unchanged("replay of a committed tx");
    cases.tried("replay of a committed transaction");

    // The legitimate next transaction, held back until the end: every attack below tries to
    // take, spoil or pre-empt its nonce.
    let update = json!({"update": {"document_id": "d1", "sha256": DOC2}});
    let next = c.execute(&alice, 1, &update);

    // The high-S twin of `next`'s valid signature.
    let sig = Signature::from_slice(&hex::decode(&next.signature).unwrap()).unwrap();
    let high = Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    assert_ne!(high.normalize_s(), high);
    let twin = Envelope {
        signature: hex::encode(high.to_bytes()),
        ..next.clone()
    };
    c.refused(&twin, 400, "malleable_signature", "high-S twin");
    c.unknown(&twin, "high-S twin");
    unchanged("high-S twin");
    cases.tried("high-S twin of a valid signature");

    // Signed for another chain.
    let action = Action::Execute {
        contract: c.custody.clone(),
        msg: serde_json::value::to_raw_value(&update).unwrap(),
    };
    let other_chain = sign(
        &payload_json(
            "vellum-other",
            &address_of_signing_key(&alice),
            1,
            None,
            &action,
        ),
        &alice,
    );
    c.refused(&other_chain, 400, "wrong_chain", "wrong chain id");
    c.unknown(&other_chain, "wrong chain id");
    unchanged("wrong chain id");
    cases.tried("wrong chain id");

    // A stale nonce on a new payload, and a nonce that leaves a gap.
    let stale = c.execute(&alice, 0, &register("d-stale"));
    c.refused(&stale, 409, "stale_nonce", "stale nonce");
    c.unknown(&stale, "stale nonce");
    unchanged("stale nonce");
    cases.tried("stale nonce");
    let gap = c.execute(&alice, 5, &register("d-gap"));
    c.refused(&gap, 409, "nonce_gap", "nonce gap");
    c.unknown(&gap, "nonce gap");
    unchanged("nonce gap");
    cases.tried("nonce gap");

    // The signature of `next` over other bytes: another payload, and `next`'s own payload
    // re-serialised with a space (the same JSON value, other bytes).
    let other_payload = Envelope {
        payload: c.execute(&alice, 1, &register("d-other")).payload,
        ..next.clone()
    };
    c.refused(
        &other_payload,
        400,
        "invalid_signature",
        "signature over another payload",
    );
    c.unknown(&other_payload, "signature over another payload");
    cases.tried("signature over another payload");
    let respaced = Envelope {
        payload: next.payload.replacen(':', ": ", 1),
        ..next.clone()
    };
    assert_ne!(respaced.payload, next.payload);
    assert_eq!(
        serde_json::from_str::<Value>(&respaced.payload).unwrap(),
        serde_json::from_str::<Value>(&next.payload).unwrap()
    );
    c.refused(
        &respaced,
        400,
        "invalid_signature",
        "signature over re-serialised bytes",
    );
    c.unknown(&respaced, "signature over re-serialised bytes");
    unchanged("signature over other bytes");
    cases.tried("signature over the same payload re-serialised");

    // Mallory signs a payload naming alice as the signer, with her own key; then with alice's
    // public key in the envelope.
    let as_alice = payload_json(
        &c.chain_id,
        &address_of_signing_key(&alice),
        1,
        None,
        &action,
    );
    let impostor = sign(&as_alice, &mallory);
    c.refused(&impostor, 400, "signer_mismatch", "signer is not the key");
    cases.tried("signer that is not the key's address");
    let stolen_key = Envelope {
        public_key: next.public_key.clone(),
        ..impostor.clone()
    };
    c.refused(
        &stolen_key,
        400,
        "invalid_signature",
        "signature by another key",
    );
    c.unknown(&stolen_key, "signature by another key");
    unchanged("impostor");
    cases.tried("signature by another key than the envelope's");

    // The legitimate transaction is still admitted with nonce 1. While it is pending, its
    // replay is a duplicate and another payload with its nonce is stale.
    let hash = c.client.submit(&next).unwrap();
    assert_eq!(hash, tx_hash(&next));
    let pending_replay = c.client.submit(&next);
    let dup_nonce = c.execute(&alice, 1, &register("d-dup-nonce"));
    let dup_nonce_answer = c.client.submit(&dup_nonce);
    let receipt = c.wait_receipt(&hash);
    assert!(receipt.success, "{:?}", receipt.error);
    assert_eq!(receipt.nonce, 1);
    match pending_replay {
        Err(ClientError::Api {
            status: 409, code, ..
        }) => {
            assert_eq!(code, "duplicate_transaction")
        }
        other => panic!("replay of a pending tx: {other:?}"),
    }
    cases.tried("replay of a pending transaction");
    match dup_nonce_answer {
        Err(ClientError::Api {
            status: 409, code, ..
        }) => assert_eq!(code, "stale_nonce"),
        other => panic!("duplicate nonce: {other:?}"),
    }
    c.unknown(&dup_nonce, "duplicate nonce");
    cases.tried("duplicate nonce (another payload with a pending nonce)");

    // Exactly the legitimate transaction changed the chain: alice's nonce is 2, the document
    // has version 2, its history is register + update, and `d-*` documents do not exist.
    let after = c.view("d1", &[&alice, &mallory]);
    assert_eq!(after["nonces"], json!([2, 0]));
    assert_eq!(after["document"]["Ok"]["version"], 2);
    assert_eq!(after["document"]["Ok"]["sha256"], DOC2);
    assert_eq!(
        history_actions(&after["history"]["Ok"]),
        ["register", "update"]
    );
    for id in ["d-stale", "d-gap", "d-other", "d-dup-nonce"] {
        assert_eq!(
            c.query(&json!({"document": {"document_id": id}})),
            Err("contract_error".to_string()),
            "{id}"
        );
    }
    c.node.stop();
}

// ---------------------------------------------------------------------------------------------
// Custody.

#[test]
fn the_same_document_registered_twice_in_one_block_goes_to_the_first_in_block_order() {
    let c = Chain::start(None);
    let mut cases = Cases::new("custody-race");
    let (alice, bob, spinner) = (key("alice"), key("bob"), key("spinner"));
    // A contract that spins until its fuel runs out: while the producer executes it, the two
    // registrations below wait in the mempool and are then cut into one block together.
    let wasm = wat::parse_file(workspace().join("contracts/hostile/infinite_loop.wat")).unwrap();
    let r = c.client.deploy(&spinner, &wasm).unwrap();
    assert!(r.success, "{:?}", r.error);
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = c
        .client
        .instantiate(&spinner, &code_hash, &json!({}), "spin")
        .unwrap();
    let spin = output(&r)["contract"].as_str().unwrap().to_string();
    let spinner_nonce = c.client.next_nonce(&address_hex(&spinner)).unwrap();

    // Round 1: alice first; round 2 (another document): bob first.
    let mut rounds = Vec::new();
    for (round, (first, second)) in [(&alice, &bob), (&bob, &alice)].into_iter().enumerate() {
        let spinner_nonce = spinner_nonce + round as u64;
        let doc = format!("race-{round}");
        let nonce = |k: &SigningKey| c.client.next_nonce(&address_hex(k)).unwrap();
        let a = c.execute(first, nonce(first), &register(&doc));
        let b = c.execute(second, nonce(second), &register(&doc));
        let spin_tx = c.execute_on(
            &spin,
            &spinner,
            spinner_nonce,
            Some(vellum_node::limits::FUEL_MAX),
            &json!({}),
        );
        let spin_hash = c.client.submit(&spin_tx).unwrap();
        // Wait until the producer has taken the spinner (the pool is empty): it then executes
        // for hundreds of milliseconds, and both registrations below wait for the next block.
        // Submitting at once instead let the producer, woken late on a loaded machine, take
        // the spinner and the first registration together (CI saw them in blocks 7 and 8).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.client.status().unwrap().mempool_txs > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the spinner was never taken"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (ha, hb) = (c.client.submit(&a).unwrap(), c.client.submit(&b).unwrap());
        let (ra, rb) = (c.wait_receipt(&ha), c.wait_receipt(&hb));
        let spun = c.wait_receipt(&spin_hash);
        assert!(!spun.success, "the spinner runs out of fuel");
        assert_eq!(ra.block_height, rb.block_height, "both in one block");
        let block = c.client.block(ra.block_height).unwrap();
        let (ia, ib) = (
            block.tx_hashes.iter().position(|h| *h == ha).unwrap(),
            block.tx_hashes.iter().position(|h| *h == hb).unwrap(),
        );
        assert!(ia < ib, "block order is admission order");
        assert_eq!((ra.index as usize, rb.index as usize), (ia, ib));
        // The first in block order wins; the second fails, consuming its nonce and nothing
        // else.
        assert!(ra.success, "{:?}", ra.error);
        assert!(!rb.success);
        assert!(
            rb.error.as_deref().unwrap().contains("already registered"),
            "{:?}",
            rb.error
        );
        assert!(rb.events.is_empty());
        let document = c.query(&json!({"document": {"document_id": doc}})).unwrap();
        assert_eq!(document["custodian"], address_hex(first));
        assert_eq!(document["version"], 1);
        let history = c.query(&json!({"history": {"document_id": doc}})).unwrap();
        assert_eq!(history_actions(&history), ["register"]);
        assert_eq!(history["entries"][0]["actor"], address_hex(first));
        assert_eq!(history["entries"][0]["tx_hash"], ha);
        rounds.push(ra.block_height);
        cases.tried(&format!(
            "same document registered twice in one block (round {round})"
        ));
    }
    assert_ne!(rounds[0], rounds[1]);
    c.node.stop();
}

#[test]
fn revoked_grantees_and_former_custodians_change_nothing() {
    let c = Chain::start(None);
    let mut cases = Cases::new("custody-rights");
    let (alice, bob, carol) = (key("alice"), key("bob"), key("carol"));
    assert!(c.run(&alice, &register("d1")).success);
    let grant = |grantee: &SigningKey| json!({"grant": {"document_id": "d1", "grantee": address_hex(grantee)}});
    let revoke = |grantee: &SigningKey| json!({"revoke": {"document_id": "d1", "grantee": address_hex(grantee)}});
    let access = json!({"access": {"document_id": "d1", "purpose": "audit"}});
    assert!(c.run(&alice, &grant(&bob)).success);
    let r = c.run(&bob, &access);
    assert_eq!(output(&r), json!({"granted": true}));
    assert!(c.run(&alice, &revoke(&bob)).success);

    // The document's state without its history length (recorded accesses add to it).
    let doc_state = |c: &Chain| {
        let mut d = c
            .query(&json!({"document": {"document_id": "d1"}}))
            .unwrap();
        d.as_object_mut().unwrap().remove("history_len");
        d
    };
    // Bob after revocation: his access is recorded as denied; custodian-only messages fail.
    let doc_before = doc_state(&c);
    let history_len = |c: &Chain| {
        c.query(&json!({"history": {"document_id": "d1", "limit": 1000}}))
            .unwrap()["entries"]
            .as_array()
            .unwrap()
            .len()
    };
    let len_before = history_len(&c);
    let r = c.run(&bob, &access);
    assert!(r.success, "a denied access is recorded, not failed");
    assert_eq!(output(&r), json!({"granted": false}));
    let history = c
        .query(&json!({"history": {"document_id": "d1", "limit": 1000}}))
        .unwrap();
    let last = history["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("access_denied"), Some(address_hex(&bob).as_str()))
    );
    assert_eq!(history_len(&c), len_before + 1);
    cases.tried("access by a revoked grantee");
    for (what, msg) in [
        ("grant", grant(&carol)),
        ("revoke", revoke(&bob)),
        (
            "update",
            json!({"update": {"document_id": "d1", "sha256": DOC2}}),
        ),
        (
            "transfer",
            json!({"transfer": {"document_id": "d1", "new_custodian": address_hex(&bob)}}),
        ),
    ] {
        let nonce = c.client.next_nonce(&address_hex(&bob)).unwrap();
        let len = history_len(&c);
        let r = c.run(&bob, &msg);
        assert!(!r.success, "revoked grantee: {what}");
        assert!(
            r.error.as_deref().unwrap().contains("unauthorized"),
            "{r:?}"
        );
        assert!(r.events.is_empty());
        assert_eq!(
            c.client.next_nonce(&address_hex(&bob)).unwrap(),
            nonce + 1,
            "a failed transaction consumes its nonce"
        );
        assert_eq!(doc_state(&c), doc_before);
        assert_eq!(history_len(&c), len);
        cases.tried(&format!("{what} by a revoked grantee"));
    }

    // Alice after transferring custody to carol.
    let r = c.run(
        &alice,
        &json!({"transfer": {"document_id": "d1", "new_custodian": address_hex(&carol)}}),
    );
    assert!(r.success);
    let doc_before = doc_state(&c);
    assert_eq!(doc_before["custodian"], address_hex(&carol));
    for (what, msg) in [
        (
            "update",
            json!({"update": {"document_id": "d1", "sha256": DOC2}}),
        ),
        ("grant", grant(&alice)),
        ("revoke", revoke(&bob)),
        (
            "transfer",
            json!({"transfer": {"document_id": "d1", "new_custodian": address_hex(&alice)}}),
        ),
    ] {
        let len = history_len(&c);
        let r = c.run(&alice, &msg);
        assert!(!r.success, "former custodian: {what}");
        assert!(
            r.error.as_deref().unwrap().contains("unauthorized"),
            "{r:?}"
        );
        assert_eq!(doc_state(&c), doc_before);
        assert_eq!(history_len(&c), len);
        cases.tried(&format!("{what} by a former custodian"));
    }
    let len = history_len(&c);
    let r = c.run(&alice, &access);
    assert_eq!(output(&r), json!({"granted": false}));
    assert_eq!(history_len(&c), len + 1);
    cases.tried("access by a former custodian");
    // The custodian is carol, with the one version and no grantee added by anyone else.
    let doc = c
        .query(&json!({"document": {"document_id": "d1"}}))
        .unwrap();
    assert_eq!(doc["custodian"], address_hex(&carol));
    assert_eq!(
        (doc["version"].clone(), doc["sha256"].clone()),
        (json!(1), json!(DOC))
    );
    assert_eq!(doc["grantees"], json!([]));
    c.node.stop();
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// Sends `request` on a fresh connection and reads the whole answer (the node closes the
/// connection: requests carry `Connection: close`). Returns the status and the body as JSON.
fn raw_exchange(addr: &str, request: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The node may answer (413) and close before the whole body is written.
    let _ = stream.write_all(request);
    read_answer(&mut stream)
}

/// Reads an HTTP/1.1 answer to the end of the connection: its status and its body as JSON.
fn read_answer(stream: &mut TcpStream) -> (u16, Value) {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Opens `permits + 1` requests whose bodies never finish. Exactly one must be refused at once
/// with 503 `overloaded` (whichever reached the node last); then a further request is refused
/// the same way while the others hold the permits, and they are answered 503 `timeout` at the
/// request timeout. (Polling while opening them raced: a poll holding a permit when a stalled
/// request arrived got that one refused, leaving a permit free for every later poll.)
fn saturate(addr: &str, permits: usize) {
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..=permits)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(
                format!("POST /v1/transactions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{")
                    .as_bytes(),
            )
            .unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // The one refused at once.
    let refused = loop {
        let answered = stalled.iter().position(|s| {
            let mut probe = [0u8; 1];
            !matches!(s.peek(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        });
        if let Some(i) = answered {
            break i;
        }
        assert!(
            started.elapsed() < ABUSE_REQUEST_TIMEOUT / 2,
            "none of {} stalled requests was refused",
            permits + 1
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut first = stalled.swap_remove(refused);
    first.set_nonblocking(false).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (status, body) = read_answer(&mut first);
    assert_spec_error(status, &body, 503, "overloaded", "request beyond the bound");
    // Every permit is held now: another request is refused too.
    let (status, body) = raw_exchange(
        addr,
        format!("GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(
        started.elapsed() < ABUSE_REQUEST_TIMEOUT,
        "too slow to see the permits held: {:?}",
        started.elapsed()
    );
    assert_spec_error(status, &body, 503, "overloaded", "request while saturated");
    for mut s in stalled {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (status, body) = read_answer(&mut s);
        assert_spec_error(status, &body, 503, "timeout", "stalled body");
    }
}

fn post(path: &str, addr: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn assert_spec_error(status: u16, body: &Value, want_status: u16, code: &str, case: &str) {
    assert_eq!(status, want_status, "{case}: {body}");
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
    assert!(
        !body["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{case}: {body}"
    );
}

/// Whether the peer closed `stream` (EOF or reset) before `deadline`, reading and discarding
/// anything it sends. Writes one byte of `drip` every `drip_every` meanwhile, if given.
fn closed_before(
    stream: &mut TcpStream,
    deadline: Instant,
    drip: Option<(&[u8], Duration)>,
) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut sent = 0;
    let mut next_drip = Instant::now();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Some((bytes, every)) = drip
            && Instant::now() >= next_drip
            && sent < bytes.len()
        {
            if stream.write_all(&bytes[sent..sent + 1]).is_err() {
                return true;
            }
            sent += 1;
            next_drip += every;
        }
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// The protections of the HTTP layer, with short timeouts so the test is fast.
/// The request timeout leaves room for a deploy on a loaded machine.
/// [`ABUSE_CONFIG`]'s in-flight bound.
const ABUSE_IN_FLIGHT_MAX: usize = 8;
const ABUSE_CONFIG: &str = "[api]\nin_flight_max = 8\nrequest_timeout_ms = 6000\nwait_timeout_ms = 5000\nheader_read_timeout_ms = 1000\n";
/// [`ABUSE_CONFIG`]'s request timeout.
const ABUSE_REQUEST_TIMEOUT: Duration = Duration::from_millis(6000);

#[test]
fn http_abuse_gets_spec_answers_and_the_node_keeps_serving() {
    let mut c = Chain::start(Some(ABUSE_CONFIG));
    let mut cases = Cases::new("http");
    let addr = c.node.addr().to_string();
    let alice = key("alice");
    assert!(c.run(&alice, &register("d1")).success);
    let before = c.view("d1", &[&alice]);

    // Oversized bodies: declared by Content-Length (answered before the body is read), and
    // streamed chunked without a length.
    let limit = vellum_node::api::BODY_BYTES_MAX;
    let huge = vec![b'x'; limit + 1];
    for path in [
        "/v1/transactions".to_string(),
        format!("/v1/contracts/{}/query", c.custody),
    ] {
        let (status, body) = raw_exchange(&addr, &post(&path, &addr, &huge));
        assert_spec_error(status, &body, 413, "payload_too_large", "oversized body");
        cases.tried(&format!("oversized body ({path})"));
    }
    let declared = format!(
        "POST /v1/transactions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\nConnection: close\r\n\r\n{{"
    );
    let (status, body) = raw_exchange(&addr, declared.as_bytes());
    assert_spec_error(status, &body, 413, "payload_too_large", "declared 10 GB");
    cases.tried("body declaring 10 GB");
    let mut chunked = format!(
        "POST /v1/transactions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..(limit / 65536 + 2) {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 65536));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, body) = raw_exchange(&addr, &chunked);
    assert_spec_error(status, &body, 413, "payload_too_large", "chunked oversized");
    cases.tried("oversized chunked body without a length");
    assert_eq!(c.view("d1", &[&alice]), before);

    // A body sent slowly: answered 503 `timeout` at the request timeout, then closed.
    let started = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(
        format!("POST /v1/transactions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"payload\"")
            .as_bytes(),
    )
    .unwrap();
    let (status, body) = read_answer(&mut slow);
    let took = started.elapsed();
    assert_spec_error(status, &body, 503, "timeout", "slow body");
    assert!(
        took >= ABUSE_REQUEST_TIMEOUT - Duration::from_millis(100)
            && took < ABUSE_REQUEST_TIMEOUT + Duration::from_secs(10),
        "answered after {took:?}"
    );
    cases.tried("body sent slowly");

    // Headers sent a byte every 100 ms (slowloris): closed at the header timeout (1 s) although
    // bytes keep arriving; and a connection that sends nothing at all, likewise.
    let request = format!(
        "GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(200)
    );
    let started = Instant::now();
    let mut loris = TcpStream::connect(&addr).unwrap();
    assert!(
        closed_before(
            &mut loris,
            started + Duration::from_secs(8),
            Some((request.as_bytes(), Duration::from_millis(100)))
        ),
        "slowloris kept its connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    cases.tried("headers sent slowly (slowloris)");
    let started = Instant::now();
    let mut idle = TcpStream::connect(&addr).unwrap();
    assert!(
        closed_before(&mut idle, started + Duration::from_secs(8), None),
        "an idle connection stayed open"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    cases.tried("connection that sends nothing");

    // JSON nested 100,000 deep: as a query message, as an envelope, and inside a signed
    // payload (anyone with a key can send that one).
    let deep = |open: &str, close: &str| {
        let mut s = open.repeat(NESTING_DEPTH);
        s.push_str(&close.repeat(NESTING_DEPTH));
        s
    };
    let arrays = deep("[", "]");
    let query_path = format!("/v1/contracts/{}/query", c.custody);
    let (status, body) = raw_exchange(&addr, &post(&query_path, &addr, arrays.as_bytes()));
    println!("query nested {NESTING_DEPTH} deep: HTTP {status} {body}");
    assert!((400..500).contains(&status), "deep query: {status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    cases.tried("query nested 100,000 deep");
    let (status, body) = raw_exchange(&addr, &post("/v1/transactions", &addr, arrays.as_bytes()));
    assert!(
        (400..500).contains(&status),
        "deep envelope: {status} {body}"
    );
    assert!(body["error"]["code"].is_string(), "{body}");
    let deep_field =
        format!("{{\"payload\": {arrays}, \"public_key\": \"\", \"signature\": \"\"}}");
    let (status, body) = raw_exchange(
        &addr,
        &post("/v1/transactions", &addr, deep_field.as_bytes()),
    );
    assert!(
        (400..500).contains(&status),
        "deep envelope field: {status} {body}"
    );
    cases.tried("envelope nested 100,000 deep");
    assert_eq!(c.view("d1", &[&alice]), before);
    // Signed: the metadata of a registration nested 100,000 deep. The node admits it (it does
    // not parse contract messages); the contract records it or fails; either way the node
    // serves on, and exactly one nonce is consumed.
    let nonce = c.client.next_nonce(&address_hex(&alice)).unwrap();
    let msg_text = format!(
        "{{\"register\": {{\"document_id\": \"deep\", \"sha256\": \"{DOC}\", \"metadata\": {arrays}}}}}"
    );
    let action = Action::Execute {
        contract: c.custody.clone(),
        msg: serde_json::value::RawValue::from_string(msg_text).unwrap(),
    };
    let envelope = sign(
        &payload_json(
            &c.chain_id,
            &address_of_signing_key(&alice),
            nonce,
            None,
            &action,
        ),
        &alice,
    );
    let (status, body) = raw_exchange(
        &addr,
        &post(
            "/v1/transactions",
            &addr,
            &serde_json::to_vec(&envelope).unwrap(),
        ),
    );
    println!("signed payload nested {NESTING_DEPTH} deep: HTTP {status} {body}");
    assert!(
        status == 202 || (400..500).contains(&status),
        "deep payload: {status} {body}"
    );
    if status == 202 {
        let receipt = c.wait_receipt(&tx_hash(&envelope));
        assert_eq!(receipt.nonce, nonce);
        assert_eq!(
            c.client.next_nonce(&address_hex(&alice)).unwrap(),
            nonce + 1
        );
    } else {
        assert_eq!(c.client.next_nonce(&address_hex(&alice)).unwrap(), nonce);
    }
    cases.tried("signed payload with a message nested 100,000 deep");
    assert!(c.node.is_running(), "the node died on deep JSON");
    let before = c.view("d1", &[&alice]);

    // More requests than the node admits (in_flight_max = 8): of nine requests whose bodies
    // never arrive, eight hold every permit until the request timeout and one is refused at once
    // with 503 `overloaded`; while they are held any other request is refused the same way; once
    // they time out, the node serves again.
    assert!(ABUSE_CONFIG.contains(&format!("in_flight_max = {ABUSE_IN_FLIGHT_MAX}\n")));
    saturate(&addr, ABUSE_IN_FLIGHT_MAX);
    assert_eq!(c.client.status().unwrap().chain_id, c.chain_id);
    assert_eq!(c.view("d1", &[&alice]), before);
    cases.tried("more requests in flight than the node admits");

    // The node still commits.
    assert!(c.run(&alice, &register("after-abuse")).success);
    assert!(c.node.is_running());
    c.node.stop();
}

#[test]
fn more_connections_than_the_node_admits_wait_and_are_served() {
    let mut c = Chain::start(Some(
        "[api]\nconnections_max = 16\nheader_read_timeout_ms = 1500\n",
    ));
    let mut cases = Cases::new("connections-bound");
    let addr = c.node.addr().to_string();
    // Sixteen idle connections fill every slot; the seventeenth is accepted by the kernel but
    // not served until the idle ones are closed at the header timeout.
    let idle: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (status, body) = raw_exchange(
        &addr,
        format!("GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "served at once ({waited:?}): the bound did not hold"
    );
    drop(idle);
    cases.tried("more connections than connections_max");
    assert!(c.node.is_running());
    c.node.stop();
}

/// This process's soft limit on open files (`/proc/self/limits`), raised first with
/// `prlimit` towards `want` when it is lower and the hard limit allows. The node, a child,
/// inherits it.
fn open_files_limit(want: u64) -> u64 {
    let read = || -> u64 {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let mut fields = line.trim_start_matches("Max open files").split_whitespace();
        fields.next().unwrap().parse().unwrap_or(u64::MAX)
    };
    if read() < want {
        let _ = std::process::Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={want}:"))
            .status();
    }
    read()
}

#[test]
fn three_thousand_connections_do_not_stop_the_node() {
    let limit = open_files_limit(FLOOD_CONNECTIONS as u64 + 1_000);
    let connections = FLOOD_CONNECTIONS.min(limit.saturating_sub(500) as usize);
    assert!(
        connections >= 1_000,
        "the open-files limit ({limit}) allows too few connections; raise `ulimit -Hn`"
    );
    println!("open-files limit {limit}: {connections} connections");
    // Idle sockets must outlive the header timeout while the others are being opened.
    let mut c = Chain::start(Some("[api]\nheader_read_timeout_ms = 300000\n"));
    let mut cases = Cases::new("connections");
    let addr = c.node.addr().to_string();
    let alice = key("alice");
    let fds_before = c.node.open_fds();

    let mut sockets: Vec<TcpStream> = (0..connections)
        .map(|i| {
            TcpStream::connect(&addr)
                .unwrap_or_else(|e| panic!("connection {i} of {connections}: {e}"))
        })
        .collect();
    // With every socket open, the node serves a new client and commits.
    assert!(c.run(&alice, &register("during-flood")).success);
    // A request on every socket: each answered 200, or 503 `overloaded` beyond the in-flight
    // bound; none dropped.
    let request = format!("GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    for s in &mut sockets {
        s.write_all(request.as_bytes()).unwrap();
    }
    let (mut ok, mut shed) = (0, 0);
    for s in &mut sockets {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (status, body) = read_answer(s);
        match status {
            200 => {
                assert_eq!(body["chain_id"], c.chain_id);
                ok += 1;
            }
            503 => {
                assert_eq!(body["error"]["code"], "overloaded", "{body}");
                shed += 1;
            }
            other => panic!("HTTP {other}: {body}"),
        }
    }
    println!("{connections} concurrent connections: {ok} answered 200, {shed} answered 503");
    assert_eq!(ok + shed, connections);
    assert!(ok > 0);
    drop(sockets);
    cases.tried(&format!(
        "{connections} concurrent connections, one request each"
    ));

    assert!(
        c.node.is_running(),
        "the node died under the connection flood"
    );
    assert!(c.run(&alice, &register("after-flood")).success);
    // The connections' descriptors are released.
    if let (Some(before), Some(_)) = (fds_before, c.node.open_fds()) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.node.open_fds().unwrap() > before + 50 {
            assert!(
                Instant::now() < deadline,
                "descriptors not released: {before} before, {:?} after",
                c.node.open_fds()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    c.node.stop();
}
