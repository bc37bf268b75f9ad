//! SIGTERM during load: the node stops admitting, commits what it admitted and exits 0, and no
//! acknowledged transaction is missing after a restart.
//!
//! Several threads submit custody `register` transactions through the client as fast as the
//! node takes them, half with `?wait=true` (acknowledged by a 200 receipt), half without
//! (acknowledged by a 202). Mid-load the node gets SIGTERM. Every answer is then one of:
//! an acknowledgement, which must be committed with a receipt after a restart on the same data
//! directory; a refusal, which must be a 4xx or 503 with the SPEC error body; or no answer at
//! all (the connection was refused or closed once the node stopped listening), which must not
//! leave the transaction half-there. Finally `vellum verify` checks the whole chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;
use serde_json::json;
use vellum_e2e::{Node, vellum_json, workspace};
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, ClientError, output};

const DOC: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";
const THREADS: usize = 8;
/// Acknowledgements to see before SIGTERM, so the signal lands in a running load.
const ACKS_BEFORE_SIGTERM: usize = 2000;

fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&vellum_node::chain::sha256(&[seed.as_bytes()])).unwrap()
}

#[derive(Debug)]
enum Answer {
    /// 202 (`wait == false`) or a 200 receipt at this height (`wait == true`).
    Acked {
        hash: String,
        committed_height: Option<u64>,
    },
    /// A SPEC error body.
    Refused { status: u16, code: String },
    /// No HTTP answer: the node was no longer listening.
    Unanswered { hash: String },
}

#[test]
fn sigterm_during_load_commits_or_refuses_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let chain_id = client.chain_id().unwrap();

    let admin = key("shutdown-admin");
    let wasm = vellum_testing::build_contract(workspace().join("contracts/custody")).unwrap();
    let r = client.deploy(&admin, &wasm).unwrap();
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = client
        .instantiate(&admin, &code_hash, &json!({}), "custody")
        .unwrap();
    assert!(r.success, "{:?}", r.error);
    let contract = output(&r)["contract"].as_str().unwrap().to_string();

    let acks = Arc::new(AtomicUsize::new(0));
    let sigterm_sent = Arc::new(AtomicBool::new(false));
    let in_flight_at_sigterm = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (url, chain_id, contract) = (node.url.clone(), chain_id.clone(), contract.clone());
            let (acks, sigterm_sent, in_flight_at_sigterm) = (
                acks.clone(),
                sigterm_sent.clone(),
                in_flight_at_sigterm.clone(),
            );
            std::thread::spawn(move || {
                let client = Client::new(&url).unwrap();
                let wait = t % 2 == 0;
                let k = key(&format!("shutdown-{t}"));
                let signer = address_of_signing_key(&k);
                let mut nonce = 0u64;
                let mut answers = Vec::new();
                loop {
                    let msg = json!({"register": {"document_id": format!("t{t}-n{nonce}"), "sha256": DOC}});
                    let action = Action::Execute {
                        contract: contract.clone(),
                        msg: serde_json::value::to_raw_value(&msg).unwrap(),
                    };
                    let envelope = sign(
                        &payload_json(&chain_id, &signer, nonce, None, &action),
                        &k,
                    );
                    let hash = hex::encode(vellum_node::chain::sha256(&[envelope
                        .payload
                        .as_bytes()]));
                    let before = sigterm_sent.load(Ordering::SeqCst);
                    let result = if wait {
                        client
                            .submit_wait(&envelope)
                            .map(|r| (r.tx_hash, Some(r.block_height)))
                    } else {
                        client.submit(&envelope).map(|h| (h, None))
                    };
                    if !before && sigterm_sent.load(Ordering::SeqCst) {
                        in_flight_at_sigterm.fetch_add(1, Ordering::SeqCst);
                    }
                    match result {
                        Ok((got, committed_height)) => {
                            assert_eq!(got, hash);
                            if let Some(h) = committed_height {
                                assert!(h > 0);
                            }
                            answers.push(Answer::Acked {
                                hash,
                                committed_height,
                            });
                            acks.fetch_add(1, Ordering::SeqCst);
                            nonce += 1;
                        }
                        Err(ClientError::Api { status, code, .. }) => {
                            // Parsed as the SPEC body by the client.
                            assert!(
                                (400..500).contains(&status) || status == 503,
                                "refused with {status} {code}"
                            );
                            assert!(
                                sigterm_sent.load(Ordering::SeqCst),
                                "refused before SIGTERM: {status} {code}"
                            );
                            answers.push(Answer::Refused { status, code });
                        }
                        Err(ClientError::Unreachable { .. }) => {
                            assert!(
                                sigterm_sent.load(Ordering::SeqCst),
                                "node unreachable before SIGTERM"
                            );
                            answers.push(Answer::Unanswered { hash });
                            return answers;
                        }
                        Err(e) => panic!("an answer that is neither success nor SPEC error: {e}"),
                    }
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::SeqCst) < ACKS_BEFORE_SIGTERM {
        assert!(Instant::now() < deadline, "the load did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    sigterm_sent.store(true, Ordering::SeqCst);
    // SIGTERM, then wait for the exit and assert status 0 and a clean log.
    let log = node.stop();
    assert!(log.contains("shut down cleanly"), "{log}");

    let answers: Vec<Answer> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let acked: Vec<(&String, Option<u64>)> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Acked {
                hash,
                committed_height,
            } => Some((hash, *committed_height)),
            _ => None,
        })
        .collect();
    let refused: Vec<(u16, &str)> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Refused { status, code } => Some((*status, code.as_str())),
            _ => None,
        })
        .collect();
    let unanswered: Vec<&String> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Unanswered { hash } => Some(hash),
            _ => None,
        })
        .collect();
    assert!(
        in_flight_at_sigterm.load(Ordering::SeqCst) > 0,
        "SIGTERM did not land during the load"
    );
    assert!(acked.iter().any(|(_, h)| h.is_some()), "no ?wait=true ack");
    assert!(acked.iter().any(|(_, h)| h.is_none()), "no 202 ack");
    eprintln!(
        "{} acknowledged ({} with a receipt), {} refused {:?}, {} without an answer",
        acked.len(),
        acked.iter().filter(|(_, h)| h.is_some()).count(),
        refused.len(),
        refused,
        unanswered.len()
    );

    // A restarted node has every acknowledged transaction, committed with its receipt.
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    for (hash, height) in &acked {
        let info = client
            .transaction(hash)
            .unwrap_or_else(|e| panic!("acknowledged {hash} is missing after restart: {e}"));
        assert_eq!(info.status, "committed", "{hash}");
        let receipt = info.receipt.expect("a committed transaction has a receipt");
        assert!(receipt.success, "{hash}: {:?}", receipt.error);
        if let Some(h) = height {
            assert_eq!(receipt.block_height, *h, "{hash}");
        }
    }
    // Unanswered requests are either committed or unknown, never stuck pending.
    for hash in &unanswered {
        match client.transaction(hash) {
            Ok(info) => assert_eq!(info.status, "committed", "{hash}"),
            Err(e) => assert_eq!(e.code(), Some("transaction_not_found"), "{hash}: {e}"),
        }
    }
    let height = client.status().unwrap().height;
    node.stop();

    let report = vellum_json(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["blocks"], height);
    assert!(report["txs"].as_u64().unwrap() >= 2 + acked.len() as u64);
}
