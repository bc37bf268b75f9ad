//! Fault injection in the commit path: the real `vellum node`, under continuous HTTP load, is
//! made to fail at each failpoint of `vellum_node::failpoints::POINTS` in turn, on the third
//! time the point is reached (so that blocks were committed and acknowledged in that run
//! first):
//!
//! - `abort`: the process dies there with SIGABRT, as in a power cut;
//! - `error` (the points inside `Store::commit`): the commit fails, the pipeline halts, and the
//!   node is then stopped with SIGTERM.
//!
//! After each fault, with the node down, the ledger is opened once (which replays the blocks
//! the journal acknowledged and redb did not get yet, as a restart does) and then, on the
//! store: every transaction acknowledged before the fault is committed with the very receipt
//! bytes the node sent; every block whose hash was read through the API before the fault is
//! there with the same hash (so its header is byte for byte the same); for the points before
//! and in the writer, the block in flight is wholly present or wholly absent, and which of the
//! two is fixed by where the point is (absent before the journal's flush, present after it);
//! the points in redb's commit come after the acknowledgement, so there every acknowledged
//! block is present; nothing lies above the tip and every table holds exactly the rows of the
//! blocks up to the tip; the chain verifies from genesis (re-execution, roots, event index)
//! with the replayed state root equal to the stored one. Then the node restarts without failpoints, serves the same
//! receipts and blocks over HTTP, and commits a new block on top. See `docs/testing-faults.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use vellum_e2e::Node;
use vellum_e2e::checks::{self, block_hash};
use vellum_e2e::load::{self, Load, Outcome};
use vellum_node::chain::tx::{Action, address_of_signing_key, payload_json, sign};
use vellum_node::client::Client;
use vellum_node::failpoints::POINTS;
use vellum_runtime::{Runtime, RuntimeConfig};

/// The fault strikes on this hit of the point.
const HIT: u64 = 3;
/// Load threads.
const THREADS: usize = 4;
/// Longest wait for a fault to strike, in ms.
const FAULT_MS_MAX: u64 = 60_000;

/// Where the block in flight must be after the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    /// Never written: the fault struck before redb's commit.
    Absent,
    /// Durable: the fault struck after redb's commit returned.
    Present,
}

/// For the `HIT`-th hit of `name` in a run that started at tip `start`: the block in flight
/// and where it must be, and the tips the store may have after the fault; `None` for the
/// points in redb's commit, which the applier reaches after the acknowledgement, with as many
/// blocks per commit as were waiting (so no one block is in flight there).
fn expectation(name: &str, start: u64) -> Option<(u64, InFlight, Vec<u64>)> {
    let b = start + HIT;
    Some(match name {
        // The producer executed block b but had not handed it over; block b - 1 may have been
        // mid-commit on the writer thread, so it may be there or not, but wholly.
        // Likewise while block b executes (`execute.diverge`, whose abort is a crash in the
        // middle of execution).
        "execute.diverge" | "ledger.produce.before_send" => {
            (b, InFlight::Absent, vec![b - 2, b - 1])
        }
        // The journal's flush returned: block b is durable, whatever happens next.
        "ledger.write.after_commit" | "ledger.write.before_acks" | "ledger.write.after_acks" => {
            (b, InFlight::Present, vec![b])
        }
        // Admission, before any block: nothing is in flight.
        "ledger.admit.after_nonce_read"
        | "store.commit.before_begin"
        | "store.commit.after_block_rows"
        | "store.commit.after_state"
        | "store.commit.before_commit"
        | "store.commit.after_commit" => return None,
        other => panic!("failpoint {other} has no expectation in this test: add one"),
    })
}

struct Case<'a> {
    name: &'a str,
    action: &'a str,
}

/// Runs one fault; returns a summary line.
fn run_case(
    case: &Case<'_>,
    data: &Path,
    contract: &str,
    chain_id: &str,
    runtime: &Runtime,
) -> String {
    let what = format!("{}={}", case.name, case.action);
    let spec = format!("{}={}({HIT})", case.name, case.action);
    let mut node = Node::start_with_env(data, &[("VELLUM_FAILPOINTS", &spec)]);
    let client = Client::new(&node.url).unwrap();
    let start = client.status().unwrap().height;
    let expected = expectation(case.name, start);
    let load = Load::start(&node.url, contract, "faults", THREADS, true);

    let outcome: Outcome = if case.action == "abort" {
        let (status, log) = node
            .wait_exit(Duration::from_millis(FAULT_MS_MAX))
            .unwrap_or_else(|| panic!("{what}: the node did not abort:\n{}", node.log()));
        assert_eq!(status.signal(), Some(6), "{what}: {status}:\n{log}");
        assert!(
            log.contains(&format!("vellum failpoint {}: abort", case.name)),
            "{what}: {log}"
        );
        assert!(log.contains("failpoints armed"), "{what}: {log}");
        drop(node);
        let outcome = load.finish();
        assert!(outcome.refused.is_empty(), "{what}: {:?}", outcome.refused);
        outcome
    } else {
        // The commit fails: the pipeline halts, the waiters of the block get `not_committed`,
        // new transactions are refused; the process keeps serving reads until SIGTERM.
        let deadline = Instant::now() + Duration::from_millis(FAULT_MS_MAX);
        while !load.all_stopped() {
            assert!(Instant::now() < deadline, "{what}: the load never stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
        let outcome = load.finish();
        let log = node.stop();
        assert!(
            log.contains(&format!("injected fault at failpoint {}", case.name)),
            "{what}: {log}"
        );
        // Each load thread stopped by itself (above): told `not_committed`, refused with
        // `shutting_down`, or refused a read. The fault is in the applier, after the
        // acknowledgement, so whether a transaction was waiting at that moment is chance.
        for (hash, status, code) in &outcome.refused {
            assert_eq!(
                (*status, code.as_str()),
                (503, "shutting_down"),
                "{what}: {hash}"
            );
        }
        outcome
    };

    // What a restart does first: replay what the journal acknowledged and redb lacks.
    let replayed = checks::replay(data);
    let store = checks::open(data);
    let snap = store.snapshot().unwrap();
    let tip = checks::tip(&snap);
    let acked_top = outcome
        .acked
        .iter()
        .map(|(_, r)| r.block_height)
        .max()
        .unwrap_or(0);
    assert!(
        tip >= acked_top,
        "{what}: tip {tip} below block {acked_top}"
    );
    if let Some((_, _, tips)) = &expected {
        assert!(
            tips.contains(&tip),
            "{what}: tip {tip}, expected one of {tips:?}"
        );
    }
    checks::check_acked(&snap, &outcome.acked, &what);
    checks::check_unanswered(&snap, &outcome.unanswered, &what);
    for (height, hash) in &outcome.blocks {
        assert_eq!(
            block_hash(&snap, *height).map(hex::encode).as_deref(),
            Some(hash.as_str()),
            "{what}: block {height} read before the fault is gone or changed"
        );
    }
    assert!(!checks::block_present(&snap, tip + 1, &what), "{what}");
    let mut in_flight_line = String::from(if case.name.starts_with("ledger.admit.") {
        "admission, no block in flight"
    } else {
        "redb's commit, after the acknowledgement"
    });
    if let Some((b, in_flight, _)) = expected {
        let present = checks::block_present(&snap, b, &what);
        assert_eq!(
            present,
            in_flight == InFlight::Present,
            "{what}: block {b} in flight"
        );
        let acked_in_b = outcome
            .acked
            .iter()
            .filter(|(_, r)| r.block_height >= b)
            .count();
        if case.name != "ledger.write.after_acks" {
            // Nothing of the block in flight was acknowledged before the fault.
            assert_eq!(acked_in_b, 0, "{what}: block {b} was acknowledged");
        }
        in_flight_line = format!(
            "fault in block {b} ({})",
            if present { "present" } else { "absent" }
        );
    }
    let unanswered_committed = outcome
        .unanswered
        .iter()
        .filter(|h| {
            snap.has_tx(&vellum_node::chain::parse_hex::<32>(h).unwrap())
                .unwrap()
        })
        .count();
    // (`error` is only for the points in redb's commit, after the acknowledgement: there a
    // transaction told `not_committed` may be committed or not, as the answer's message says.)
    let txs_total = checks::tx_count(&snap, 1, tip);
    checks::check_rows(&snap, txs_total, &what);
    drop(snap);
    let report = checks::verify(&store, chain_id, runtime, &what);
    assert_eq!(report.txs, txs_total, "{what}");
    drop(store);

    // Restarted without failpoints: the same receipts and blocks over HTTP, and a new block.
    let node = Node::start(data);
    let client = Client::new(&node.url).unwrap();
    assert_eq!(client.status().unwrap().height, tip, "{what}");
    for (hash, receipt) in &outcome.acked {
        let got = client.transaction(hash).unwrap().receipt.unwrap();
        assert_eq!(got.encode(), receipt.encode(), "{what}: {hash} over HTTP");
    }
    for (height, hash) in &outcome.blocks {
        assert_eq!(
            &client.block(*height).unwrap().hash,
            hash,
            "{what}: block {height}"
        );
    }
    let admin = load::key("faults-admin", 0);
    let r = client
        .execute(
            &admin,
            contract,
            &json!({"register": {"document_id": format!("after-{what}"), "sha256": load::DOC_SHA256}}),
        )
        .unwrap();
    assert!(r.success, "{what}: {:?}", r.error);
    assert_eq!(r.block_height, tip + 1, "{what}");
    node.stop();

    format!(
        "{what}: run from tip {start}, {in_flight_line}, tip {tip} ({replayed} blocks replayed from the journal); {} acknowledged, {} unanswered ({} committed), {} blocks read before the fault; verified {} blocks",
        outcome.acked.len(),
        outcome.unanswered.len(),
        unanswered_committed,
        outcome.blocks.len(),
        report.blocks
    )
}

#[test]
fn a_fault_at_every_failpoint_loses_nothing_acknowledged_and_leaves_no_partial_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();

    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let chain_id = client.chain_id().unwrap();
    let admin = load::key("faults-admin", 0);
    let contract = vellum_e2e::deploy_custody(&client, &admin);
    node.stop();

    let mut cases = Vec::new();
    for point in POINTS {
        cases.push(Case {
            name: point.name,
            action: "abort",
        });
        if point.can_error {
            cases.push(Case {
                name: point.name,
                action: "error",
            });
        }
    }
    for case in &cases {
        let line = run_case(case, &data, &contract, &chain_id, &runtime);
        println!("{line}");
    }
    assert_eq!(cases.len(), 16);
}

#[test]
fn a_misspelt_failpoint_is_refused_at_start() {
    // A typo must not leave the node running without the fault the test thinks it armed.
    // (That a build without the feature refuses any `VELLUM_FAILPOINTS` is a unit test of
    // `vellum_node::failpoints`.)
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(vellum_e2e::vellum_bin())
        .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("VELLUM_FAILPOINTS", "store.commit.befor_commit=abort")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown failpoint `store.commit.befor_commit`"),
        "{stderr}"
    );
}

/// Acknowledgements while redb's commits stall: more than this many blocks (the applier's
/// queue held 64 before it was bounded by bytes, and the writer then waited for redb).
const ACKED_WHILE_STALLED: usize = 400;

#[test]
fn a_stalled_redb_commit_does_not_hold_acknowledgements_back() {
    // The journal acknowledges; redb catches up behind it. Here redb's first commit after the
    // restart never ends (`pause`): the node must keep acknowledging, one block per
    // transaction, well past 64 blocks, and a kill then loses nothing it acknowledged.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let admin = load::key("stall-admin", 0);
    let contract = vellum_e2e::deploy_custody(&client, &admin);
    node.stop();

    let node = Node::start_with_env(
        &data,
        &[("VELLUM_FAILPOINTS", "store.commit.before_begin=pause")],
    );
    let start = Client::new(&node.url).unwrap().status().unwrap().height;
    let load = Load::start(&node.url, &contract, "stall", 1, false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while load.acks() < ACKED_WHILE_STALLED && !load.all_stopped() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let acks = load.acks();
    node.kill();
    let outcome = load.finish();
    assert!(
        acks >= ACKED_WHILE_STALLED,
        "only {acks} acknowledged while redb's commit stalled (refused: {:?})",
        outcome.refused
    );

    // Everything acknowledged is in the journal only: the reopen replays it into redb.
    let replayed = checks::replay(&data);
    assert!(
        replayed >= ACKED_WHILE_STALLED,
        "{replayed} blocks replayed"
    );
    let store = checks::open(&data);
    let snap = store.snapshot().unwrap();
    assert!(checks::tip(&snap) >= start + acks as u64);
    checks::check_acked(&snap, &outcome.acked, "stalled redb");
}

/// How long each admission pauses after reading an account's committed nonce, in the race test:
/// long enough for another transaction of the account to be admitted, committed and applied.
/// Transaction 1 is sent half of it after transaction 0, which leaves half of it on each side:
/// for transaction 1 to read before transaction 0 is admitted, and for transaction 0 to be
/// committed and applied before transaction 1 takes the lock again.
const ADMIT_PAUSE_MS: u64 = 1_000;

#[test]
fn admission_reads_again_a_nonce_that_a_commit_made_stale_meanwhile() {
    // `Ledger::admit` reads an account's committed nonce with the mempool's lock released.
    // Here every such read is followed by a pause. Transaction 0 of a fresh account is sent;
    // while its admission pauses, transaction 1 is sent and reads the same committed nonce, 0.
    // Transaction 0 is then admitted, committed and applied (the pool forgets the account)
    // before transaction 1 takes the lock again: its read is stale, and admitting with it
    // would refuse nonce 1 as a gap. Admission must see that and read again.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = Node::start(&data);
    let client = Client::new(&node.url).unwrap();
    let chain_id = client.chain_id().unwrap();
    let contract = vellum_e2e::deploy_custody(&client, &load::key("admit-race-admin", 0));
    node.stop();

    let spec = format!("ledger.admit.after_nonce_read=sleep({ADMIT_PAUSE_MS})");
    let node = Node::start_with_env(&data, &[("VELLUM_FAILPOINTS", &spec)]);
    let key = load::key("admit-race", 0);
    let signer = address_of_signing_key(&key);
    let envelope = |nonce: u64| {
        let msg = json!({"register": {"document_id": format!("race-{nonce}"), "sha256": load::DOC_SHA256}});
        let action = Action::Execute {
            contract: contract.clone(),
            msg: serde_json::value::to_raw_value(&msg).unwrap(),
        };
        sign(
            &payload_json(&chain_id, &signer, nonce, None, &action),
            &key,
        )
    };
    let (first, second) = (envelope(0), envelope(1));
    let url = node.url.clone();
    let first = std::thread::spawn(move || Client::new(&url).unwrap().submit_wait(&first));
    std::thread::sleep(Duration::from_millis(ADMIT_PAUSE_MS / 2));
    let sent = Instant::now();
    let second = Client::new(&node.url).unwrap().submit_wait(&second);
    let second_ms = sent.elapsed().as_millis() as u64;
    let first = first.join().unwrap().unwrap();
    let second = second.unwrap_or_else(|e| panic!("nonce 1 after a stale read: {e}"));
    assert!(first.success && second.success, "{first:?} {second:?}");
    assert!(second.block_height > first.block_height);
    // Two reads, each followed by the pause: the failpoint was armed and the stale read was
    // noticed (with one read, nonce 1 would have been refused or admitted after one pause).
    assert!(
        second_ms >= 2 * ADMIT_PAUSE_MS,
        "nonce 1 answered after {second_ms} ms"
    );
    node.stop();
}

/// Acknowledgements before the kill in the `--journal-dir` test, and the longest wait for them.
const ACKED_BEFORE_KILL: usize = 50;
const ACKED_BEFORE_KILL_WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_journal_dir_of_its_own_keeps_every_acknowledged_block_across_a_kill() {
    // `VELLUM_JOURNAL_DIR` (`--journal-dir`): the node acknowledges from a journal outside
    // its data directory. Killed under load, it must come back from that journal with every
    // acknowledged receipt, and a restart that forgets the journal's place is refused while
    // the journal holds blocks redb lacks (redb's commits are paused, so it lacks them all).
    let dir = tempfile::tempdir().unwrap();
    let (data, journal) = (dir.path().join("data"), dir.path().join("journal-device"));
    let journal_env = journal.to_str().unwrap();
    let node = Node::start_with_env(&data, &[("VELLUM_JOURNAL_DIR", journal_env)]);
    let client = Client::new(&node.url).unwrap();
    let contract = vellum_e2e::deploy_custody(&client, &load::key("journal-dir-admin", 0));
    node.stop();

    let node = Node::start_with_env(
        &data,
        &[
            ("VELLUM_JOURNAL_DIR", journal_env),
            ("VELLUM_FAILPOINTS", "store.commit.before_begin=pause"),
        ],
    );
    let load = Load::start(&node.url, &contract, "journal-dir", 2, false);
    let deadline = Instant::now() + ACKED_BEFORE_KILL_WAIT;
    while load.acks() < ACKED_BEFORE_KILL && !load.all_stopped() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill();
    let outcome = load.finish();
    assert!(
        outcome.acked.len() >= ACKED_BEFORE_KILL,
        "{} acknowledged",
        outcome.acked.len()
    );
    assert!(
        std::fs::read_dir(&journal).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "journal")),
        "the segments are in the journal directory"
    );

    // Without the journal's place: refused, naming it.
    let out = std::process::Command::new(vellum_e2e::vellum_bin())
        .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("journal-device"), "{stderr}");

    // With it: every acknowledged receipt, byte for byte.
    let node = Node::start_with_env(&data, &[("VELLUM_JOURNAL_DIR", journal_env)]);
    let client = Client::new(&node.url).unwrap();
    for (hash, receipt) in &outcome.acked {
        let got = client.transaction(hash).unwrap().receipt.unwrap();
        assert_eq!(got.encode(), receipt.encode(), "{hash}");
    }
    node.stop();
}
