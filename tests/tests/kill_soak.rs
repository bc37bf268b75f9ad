//! Kill soak: the real `vellum node` under continuous HTTP load (custody `register` calls with
//! `?wait=true` from several threads) is killed with SIGKILL at seeded random moments, again and
//! again, and restarted on the same data directory. After every kill, with the node down:
//!
//! - every transaction acknowledged in that run (a 200 receipt) is committed at the height and
//!   index its receipt names, with the very receipt bytes the node sent;
//! - every transaction sent without an answer is committed wholly or not at all;
//! - every block seen after an earlier kill is still there, byte for byte (its header hash);
//! - nothing of a block above the tip exists, and every table holds exactly the rows of the
//!   blocks up to the tip (no half-written block);
//! - periodically and at the end, the chain verifies from genesis (re-execution, roots, event
//!   index) with the replayed state root equal to the stored one, and every transaction
//!   acknowledged since the start is checked again.
//!
//! `VELLUM_KILL_SOAK_KILLS` sets the number of kills (default 12; the long run uses 1,000),
//! `VELLUM_KILL_SOAK_SEED` the seed of the kill moments, `VELLUM_E2E_BIN` a copy of the binary
//! for long runs. See `docs/testing-faults.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use vellum_e2e::Node;
use vellum_e2e::checks::{self, block_hash};
use vellum_e2e::load::Load;
use vellum_node::chain::{Hash, parse_hex, sha256};
use vellum_node::client::Client;
use vellum_runtime::{Runtime, RuntimeConfig};

/// Load threads (each one account, one `?wait=true` request at a time).
const THREADS: usize = 6;
/// Longest wait for the first acknowledgement of a run, in ms.
const FIRST_ACK_MS_MAX: u64 = 60_000;
/// Kill moments are uniform in this window after the run's first acknowledgement, in ms.
const KILL_WINDOW_MS: u64 = 400;

/// A small deterministic generator (xorshift64*): reproducible kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What is kept of an acknowledgement for the final check: hash, position, receipt digest.
struct Acked {
    hash: Hash,
    height: u64,
    index: u32,
    receipt: Hash,
}

#[test]
fn sigkill_under_http_load_loses_nothing_acknowledged() {
    let kills = env_u64("VELLUM_KILL_SOAK_KILLS", 12);
    let seed = env_u64("VELLUM_KILL_SOAK_SEED", 0x6b69_6c6c_736f_616b);
    let verify_every = if kills <= 50 { 1 } else { 50 };
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let started = Instant::now();

    // Setup: the custody contract, then a clean stop.
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let chain_id = client.chain_id().unwrap();
    let admin = vellum_e2e::load::key("kill-soak-admin", 0);
    let contract = vellum_e2e::deploy_custody(&client, &admin);
    node.stop();

    let mut acked: Vec<Acked> = Vec::new();
    let mut unanswered = 0usize;
    // Header hashes of every block seen after a kill, by height.
    let mut seen: Vec<Hash> = Vec::new();
    let mut txs_total = {
        let store = checks::open(&data);
        let snap = store.snapshot().unwrap();
        let tip = checks::tip(&snap);
        seen.extend((0..=tip).map(|h| block_hash(&snap, h).unwrap()));
        checks::tx_count(&snap, 1, tip)
    };
    let mut verifications = 0usize;
    let mut replayed = 0usize;
    let mut kill_delays = Vec::new();
    for round in 0..kills {
        let what = format!("kill {}", round + 1);
        let node = Node::start(&data);
        let load = Load::start(&node.url, &contract, "kill-soak", THREADS, false);
        let deadline = Instant::now() + Duration::from_millis(FIRST_ACK_MS_MAX);
        while load.acks() == 0 {
            assert!(Instant::now() < deadline, "{what}: no acknowledgement");
            assert!(
                !load.all_stopped(),
                "{what}: the load stopped:\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let delay = rng.next() % KILL_WINDOW_MS;
        kill_delays.push(delay);
        std::thread::sleep(Duration::from_millis(delay));
        node.kill();
        let outcome = load.finish();
        assert!(
            outcome.refused.is_empty(),
            "{what}: refused {:?}",
            outcome.refused
        );

        replayed += checks::replay(&data);
        let store = checks::open(&data);
        let snap = store.snapshot().unwrap();
        let tip = checks::tip(&snap);
        checks::check_acked(&snap, &outcome.acked, &what);
        checks::check_unanswered(&snap, &outcome.unanswered, &what);
        // The chain never loses a block it had after an earlier kill, nor changes one.
        assert!(tip + 1 >= seen.len() as u64, "{what}: the tip went back");
        let last = seen.len() as u64 - 1;
        assert_eq!(
            block_hash(&snap, last),
            Some(seen[last as usize]),
            "{what}: block {last} changed"
        );
        txs_total += if tip > last {
            checks::tx_count(&snap, last + 1, tip)
        } else {
            0
        };
        seen.extend((last + 1..=tip).map(|h| block_hash(&snap, h).unwrap()));
        checks::check_rows(&snap, txs_total, &what);
        unanswered += outcome.unanswered.len();
        acked.extend(outcome.acked.iter().map(|(h, r)| Acked {
            hash: parse_hex::<32>(h).unwrap(),
            height: r.block_height,
            index: r.index,
            receipt: sha256(&[&r.encode()]),
        }));

        if (round + 1) % verify_every == 0 || round + 1 == kills {
            // Every block seen so far, byte for byte, and every acknowledgement since the start.
            for (h, hash) in seen.iter().enumerate() {
                assert_eq!(
                    block_hash(&snap, h as u64).as_ref(),
                    Some(hash),
                    "{what}: block {h}"
                );
            }
            for a in &acked {
                assert_eq!(
                    snap.tx_position(&a.hash).unwrap(),
                    Some((a.height, a.index)),
                    "{what}: acknowledged {} lost",
                    hex::encode(a.hash)
                );
                let receipt = snap.receipt(&a.hash).unwrap().unwrap();
                assert_eq!(sha256(&[&receipt]), a.receipt, "{what}: receipt changed");
            }
            drop(snap);
            let report = checks::verify(&store, &chain_id, &runtime, &what);
            assert_eq!(report.txs, txs_total, "{what}");
            verifications += 1;
        }
    }

    // The node still serves after all that: it commits a new transaction on top.
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let r = client
        .execute(
            &admin,
            &contract,
            &json!({"register": {"document_id": "after-the-soak", "sha256": vellum_e2e::load::DOC_SHA256}}),
        )
        .unwrap();
    assert!(r.success, "{:?}", r.error);
    assert_eq!(r.block_height, seen.len() as u64);
    node.stop();

    kill_delays.sort_unstable();
    println!(
        "kill soak: {kills} kills (seed {seed:#x}, delay after the first ack p50 {} ms), {} acknowledged \
         transactions all present with their receipts, {unanswered} unanswered (each wholly \
         committed or absent), {} blocks, {txs_total} transactions, {verifications} verifications \
         from genesis, {replayed} blocks replayed from the journal; {:.1} s",
        kill_delays[kill_delays.len() / 2],
        acked.len(),
        seen.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(acked.len() as u64 >= kills);
}
