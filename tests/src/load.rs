//! Continuous custody load through the typed client, recording every answer: the driver of the
//! fault-injection and kill-soak tests (`docs/testing-faults.md`).
//!
//! Each thread owns one account (a key derived from a label), asks the node for its next nonce,
//! then submits custody `register` transactions one after another with `?wait=true`, so every
//! `200` is an acknowledgement: the node answers it only after the block's durable commit. A
//! thread stops at its first answer that is not a receipt (the node died, halted or refused) or
//! when told to.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use k256::ecdsa::SigningKey;
use serde_json::json;
use vellum_node::chain::block::Receipt;
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::{Client, ClientError};

/// The document hash every `register` carries.
pub const DOC_SHA256: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

/// What the load saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Acknowledged transactions: hash and the receipt the node sent.
    pub acked: Vec<(String, Receipt)>,
    /// Transactions sent without a receipt coming back (the connection broke or the node said
    /// `not_committed`): each is committed wholly or not at all.
    pub unanswered: Vec<String>,
    /// Other refusals: hash, HTTP status and error code.
    pub refused: Vec<(String, u16, String)>,
    /// Block hashes read through the API after an acknowledgement, by height (only with
    /// `record_blocks`).
    pub blocks: BTreeMap<u64, String>,
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    blocks: Arc<Mutex<BTreeMap<u64, String>>>,
    threads: Vec<JoinHandle<Outcome>>,
}

/// The signing key of load thread `t` under `label`.
pub fn key(label: &str, t: usize) -> SigningKey {
    SigningKey::from_slice(&vellum_node::chain::sha256(&[
        label.as_bytes(),
        &(t as u64).to_be_bytes(),
    ]))
    .unwrap()
}

impl Load {
    /// Starts `threads` threads loading the node at `url` with `register` calls to `contract`.
    /// With `record_blocks`, the hash of each acknowledged block is read through the API too.
    pub fn start(
        url: &str,
        contract: &str,
        label: &str,
        threads: usize,
        record_blocks: bool,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
        let blocks = Arc::new(Mutex::new(BTreeMap::new()));
        let threads = (0..threads)
            .map(|t| {
                let (url, contract, label) =
                    (url.to_string(), contract.to_string(), label.to_string());
                let (stop, acks, blocks) = (stop.clone(), acks.clone(), blocks.clone());
                std::thread::spawn(move || {
                    let mut out = Outcome::default();
                    let client = Client::new(&url).unwrap();
                    let k = key(&label, t);
                    let signer = address_of_signing_key(&k);
                    let (Ok(chain_id), Ok(mut nonce)) =
                        (client.chain_id(), client.next_nonce(&hex::encode(signer)))
                    else {
                        return out;
                    };
                    while !stop.load(Ordering::SeqCst) {
                        let msg = json!({"register": {
                            "document_id": format!("{label}-{t}-n{nonce}"),
                            "sha256": DOC_SHA256,
                        }});
                        let action = Action::Execute {
                            contract: contract.clone(),
                            msg: serde_json::value::to_raw_value(&msg).unwrap(),
                        };
                        let envelope =
                            sign(&payload_json(&chain_id, &signer, nonce, None, &action), &k);
                        let hash =
                            hex::encode(vellum_node::chain::sha256(&[envelope.payload.as_bytes()]));
                        match client.submit_wait(&envelope) {
                            Ok(receipt) => {
                                assert_eq!(receipt.tx_hash, hash);
                                let height = receipt.block_height;
                                out.acked.push((hash, receipt));
                                acks.fetch_add(1, Ordering::SeqCst);
                                nonce += 1;
                                if record_blocks && !blocks.lock().unwrap().contains_key(&height) {
                                    match client.block(height) {
                                        Ok(b) => {
                                            blocks.lock().unwrap().insert(height, b.hash);
                                        }
                                        Err(_) => break,
                                    }
                                }
                            }
                            Err(ClientError::Unreachable { .. }) => {
                                out.unanswered.push(hash);
                                break;
                            }
                            Err(ClientError::Api { status, code, .. })
                                if code == "not_committed" =>
                            {
                                assert_eq!(status, 503);
                                out.unanswered.push(hash);
                                break;
                            }
                            Err(ClientError::Api { status, code, .. }) => {
                                out.refused.push((hash, status, code));
                                break;
                            }
                            Err(e) => panic!("{hash}: an answer that is no SPEC answer: {e}"),
                        }
                    }
                    out
                })
            })
            .collect();
        Self {
            stop,
            acks,
            blocks,
            threads,
        }
    }

    /// Acknowledgements so far.
    pub fn acks(&self) -> usize {
        self.acks.load(Ordering::SeqCst)
    }

    /// Whether every thread has stopped by itself.
    pub fn all_stopped(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Tells the threads to stop after their current request, and collects what they saw.
    pub fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Outcome::default();
        for t in self.threads {
            let o = t.join().unwrap();
            all.acked.extend(o.acked);
            all.unanswered.extend(o.unanswered);
            all.refused.extend(o.refused);
        }
        all.blocks = std::mem::take(&mut *self.blocks.lock().unwrap());
        all
    }
}
