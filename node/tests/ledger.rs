//! The ledger end to end without HTTP: the custody flow through signed transactions, block
//! linkage and roots, determinism across fresh stores, restart, and tamper detection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{Value, json};
use vellum_node::chain::block::Receipt;
use vellum_node::chain::{Address, merkle, sha256};
use vellum_node::execute::{BlockContext, StateBase, execute_block, genesis};
use vellum_node::ledger::{Ledger, LedgerConfig, Proposal};
use vellum_node::store::{CommitBatch, Store};
use vellum_node::verify::verify_chain;
use vellum_runtime::{Runtime, RuntimeConfig};

const DOC: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn submit(ledger: &Ledger, env: vellum_node::chain::tx::Envelope) -> Arc<Receipt> {
    let (_, rx) = ledger.submit(env).unwrap();
    rx.blocking_recv().unwrap()
}

fn output(r: &Receipt) -> Value {
    serde_json::from_str(r.output.get()).unwrap()
}

/// Deploys and instantiates custody with alice; returns the contract address.
fn setup_custody(ledger: &Ledger, alice: &k256::ecdsa::SigningKey) -> Address {
    let r = submit(ledger, signed(alice, 0, deploy(&custody_wasm())));
    assert!(r.success, "{:?}", r.error);
    let code_hash = output(&r)["code_hash"].as_str().unwrap().to_string();
    let r = submit(
        ledger,
        signed(
            alice,
            1,
            vellum_node::chain::tx::Action::Instantiate {
                code_hash,
                msg: raw(json!({})),
                label: "custody".into(),
            },
        ),
    );
    assert!(r.success, "{:?}", r.error);
    vellum_node::chain::parse_hex(output(&r)["contract"].as_str().unwrap()).unwrap()
}

#[test]
fn custody_flow_through_signed_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
    let (alice, bob) = (key("alice"), key("bob"));
    let custody = setup_custody(&ledger, &alice);
    assert_eq!(
        custody,
        vellum_node::chain::contract_address(&addr(&alice), 1)
    );

    let r = submit(
        &ledger,
        signed(
            &alice,
            2,
            execute(
                &custody,
                json!({"register": {"document_id": "d1", "sha256": DOC}}),
            ),
        ),
    );
    assert!(r.success);
    assert_eq!(r.events[0].ty, "register");
    assert_eq!(r.events[0].contract, hex::encode(custody));
    let r = submit(
        &ledger,
        signed(
            &bob,
            0,
            execute(
                &custody,
                json!({"access": {"document_id": "d1", "purpose": "p"}}),
            ),
        ),
    );
    assert_eq!(output(&r), json!({"granted": false}));
    // A refused custodian-only message: failed receipt, nonce consumed, no state change.
    let r = submit(
        &ledger,
        signed(
            &bob,
            1,
            execute(
                &custody,
                json!({"update": {"document_id": "d1", "sha256": DOC}}),
            ),
        ),
    );
    assert!(!r.success);
    assert!(
        r.error.as_deref().unwrap().contains("unauthorized"),
        "{:?}",
        r.error
    );
    assert!(r.events.is_empty());
    assert_eq!(ledger.next_nonce(&addr(&bob)).unwrap(), 2);

    let answer = ledger
        .query(&custody, br#"{"history": {"document_id": "d1"}}"#)
        .unwrap()
        .unwrap();
    let history: Value = serde_json::from_slice(&answer.result.unwrap().output).unwrap();
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["action"], "access_denied");
    assert_eq!(entries[1]["tx_hash"].as_str().unwrap().len(), 64);

    // The event index finds the document's events by attribute.
    let snap = ledger.snapshot().unwrap();
    let prefix = vellum_node::store::keys::event_prefix(&custody, "document_id", "d1");
    assert_eq!(snap.events(&prefix, None, 100).unwrap().len(), 2);
}

#[test]
fn blocks_link_and_commit_to_their_transactions_receipts_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
    let alice = key("alice");
    let custody = setup_custody(&ledger, &alice);
    let mut rxs = Vec::new();
    for i in 0..20u64 {
        let env = signed(
            &alice,
            2 + i,
            execute(
                &custody,
                json!({"register": {"document_id": format!("doc{i}"), "sha256": DOC}}),
            ),
        );
        rxs.push(ledger.submit(env).unwrap().1);
    }
    for rx in rxs {
        assert!(rx.blocking_recv().unwrap().success);
    }
    let snap = ledger.snapshot().unwrap();
    let tip = snap.tip_height().unwrap().unwrap();
    assert!(tip >= 3);
    let mut prev = snap.header(0).unwrap().unwrap();
    assert_eq!(prev, genesis(CHAIN, 0));
    for h in 1..=tip {
        let header = snap.header(h).unwrap().unwrap();
        assert_eq!(header.height, h);
        assert_eq!(header.prev_hash, prev.hash());
        assert!(header.timestamp_ms >= prev.timestamp_ms);
        let txs = snap.block_tx_hashes(h).unwrap();
        assert_eq!(header.tx_count as usize, txs.len());
        assert_eq!(header.tx_root, merkle::root(&txs));
        let receipts: Vec<_> = txs
            .iter()
            .map(|t| sha256(&[&snap.receipt(t).unwrap().unwrap()]))
            .collect();
        assert_eq!(header.receipt_root, merkle::root(&receipts));
        assert_ne!(
            header.state_root, prev.state_root,
            "every block here changes state"
        );
        assert_eq!(snap.height_of(&header.hash()).unwrap(), Some(h));
        prev = header;
    }
    drop(snap);
    drop(ledger);
    let store = Store::open(&dir.path().join("chain.redb")).unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut seen = Vec::new();
    let report = verify_chain(&store, CHAIN, &runtime, &mut |h, t| seen.push((h, t))).unwrap();
    assert_eq!(report.blocks, tip);
    assert_eq!(report.txs, 22);
    assert_eq!(report.state_root, prev.state_root);
    assert_eq!(seen.last(), Some(&(tip, tip)));
}

#[test]
fn the_same_transactions_on_a_fresh_store_give_the_same_roots_and_hashes() {
    let alice = key("alice");
    let wasm = custody_wasm();
    let keys = vellum_node::chain::tx::KeyCache::default();
    let verified = |e| vellum_node::chain::tx::verify_envelope(e, CHAIN, &keys).unwrap();
    let code_hash = hex::encode(sha256(&[&wasm]));
    let contract = vellum_node::chain::contract_address(&addr(&alice), 1);
    let blocks = [
        vec![verified(signed(&alice, 0, deploy(&wasm)))],
        vec![
            verified(signed(
                &alice,
                1,
                vellum_node::chain::tx::Action::Instantiate {
                    code_hash,
                    msg: raw(json!({})),
                    label: String::new(),
                },
            )),
            verified(signed(
                &alice,
                2,
                execute(
                    &contract,
                    json!({"register": {"document_id": "x", "sha256": DOC}}),
                ),
            )),
        ],
        vec![verified(signed(
            &alice,
            3,
            execute(
                &contract,
                json!({"access": {"document_id": "x", "purpose": "y"}}),
            ),
        ))],
    ];
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("chain.redb")).unwrap();
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let mut prev = genesis(CHAIN, 5);
        store
            .commit(&CommitBatch {
                header: Some(prev),
                ..Default::default()
            })
            .unwrap();
        let mut hashes = Vec::new();
        for (i, txs) in blocks.iter().enumerate() {
            let ctx = BlockContext {
                height: i as u64 + 1,
                timestamp_ms: 1000 * (i as u64 + 1),
                prev_hash: prev.hash(),
                prev_state_root: prev.state_root,
            };
            let base: Arc<dyn StateBase> = Arc::new(store.snapshot().unwrap());
            let executed = execute_block(&runtime, base, ctx, txs).unwrap();
            assert!(
                executed.receipts.iter().all(|r| r.success),
                "{:?}",
                executed.receipts
            );
            store.commit(&executed.batch).unwrap();
            hashes.push((executed.header.hash(), executed.header.state_root));
            prev = executed.header;
        }
        hashes
    };
    let first = run();
    assert_eq!(first, run());
    assert_eq!(first.len(), 3);
}

#[test]
fn a_reopened_ledger_resumes_at_its_last_block() {
    let dir = tempfile::tempdir().unwrap();
    let alice = key("alice");
    let (tip, custody) = {
        let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
        let custody = setup_custody(&ledger, &alice);
        (ledger.tip(), custody)
    };
    let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
    assert_eq!(ledger.tip(), tip);
    assert_eq!(ledger.next_nonce(&addr(&alice)).unwrap(), 2);
    let r = submit(
        &ledger,
        signed(
            &alice,
            2,
            execute(
                &custody,
                json!({"register": {"document_id": "after", "sha256": DOC}}),
            ),
        ),
    );
    assert!(r.success, "{:?}", r.error);
    assert_eq!(r.block_height, tip.0.height + 1);
    assert_eq!(ledger.tip().0.prev_hash, tip.1);
    drop(ledger);
    // Another chain id cannot open this data directory.
    assert!(Ledger::open(LedgerConfig::new(dir.path(), "other")).is_err());
}

#[test]
fn tampering_with_a_block_a_receipt_a_state_entry_or_an_index_is_named_by_verification() {
    let dir = tempfile::tempdir().unwrap();
    let alice = key("alice");
    {
        let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
        let custody = setup_custody(&ledger, &alice);
        for i in 0..3u64 {
            submit(
                &ledger,
                signed(
                    &alice,
                    2 + i,
                    execute(
                        &custody,
                        json!({"register": {"document_id": format!("d{i}"), "sha256": DOC}}),
                    ),
                ),
            );
        }
    }
    let path = dir.path().join("chain.redb");
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let verify = |store: &Store| verify_chain(store, CHAIN, &runtime, &mut |_, _| {});
    let copy = |name: &str| {
        let p = dir.path().join(name);
        std::fs::copy(&path, &p).unwrap();
        Store::open(&p).unwrap()
    };
    let pristine = Store::open(&path).unwrap();
    verify(&pristine).unwrap();
    let snap = pristine.snapshot().unwrap();
    let block3 = snap.header_bytes(3).unwrap().unwrap();
    let tx3 = snap.block_tx_hashes(3).unwrap()[0];
    let receipt = snap.receipt(&tx3).unwrap().unwrap();
    let (state_key, state_value) = snap.scan(&[0x04], None, 1).unwrap().remove(0);
    let (event_key, _) = snap.events(&[], None, 1).unwrap().remove(0);
    let tip = snap.tip_height().unwrap().unwrap();
    drop(snap);
    drop(pristine);

    // A block: one byte of the header's timestamp.
    let store = copy("block.redb");
    let mut bytes = block3.clone();
    bytes[50] ^= 1;
    store.tamper_header(3, &bytes).unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(
        e.contains("block 3") && (e.contains("hash_index") || e.contains("header")),
        "{e}"
    );

    // A receipt: flip `success`... or any byte of it.
    let store = copy("receipt.redb");
    let text = String::from_utf8(receipt.clone())
        .unwrap()
        .replace("\"success\":true", "\"success\":false");
    assert_ne!(text.as_bytes(), receipt.as_slice());
    store.tamper("receipts", &tx3, text.as_bytes()).unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(
        e.contains("block 3") && e.contains("receipt") && e.contains(&hex::encode(tx3)),
        "{e}"
    );

    // A state entry: one byte of a contract's stored value.
    let store = copy("state.redb");
    let mut v = state_value.clone();
    v[0] ^= 0xff;
    store.tamper("state", &state_key, &v).unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(
        e.contains("state") && e.contains(&hex::encode(&state_key)),
        "{e}"
    );

    // An event-index entry pointing at another transaction.
    let store = copy("event.redb");
    store.tamper("events", &event_key, &[7u8; 32]).unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(e.contains("events"), "{e}");

    // Rows no block accounts for, as a half-written block above the tip would leave: a receipt
    // at the next height, then an event-index entry of no transaction.
    let store = copy("orphan-receipt.redb");
    let at = vellum_node::store::position(tip + 1, 0);
    store.tamper("receipts", &at, b"{}").unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(e.contains("rows") && e.contains("table receipts"), "{e}");
    let store = copy("orphan-event.redb");
    let mut extra = event_key.clone();
    extra.push(0);
    store.tamper("events", &extra, &[7u8; 32]).unwrap();
    let e = verify(&store).unwrap_err().to_string();
    assert!(e.contains("rows") && e.contains("table events"), "{e}");
}

/// A ledger as a cluster member runs it (docs/cluster.md): no producer of its own; blocks
/// come through [`Ledger::order_next`] and [`Ledger::apply`].
fn replicated(dir: &std::path::Path) -> Ledger {
    let mut config = LedgerConfig::new(dir, CHAIN);
    config.replicated = true;
    Ledger::open(config).unwrap()
}

/// A block of `txs` on the ledger's tip, as a Raft entry would carry it.
fn on_tip(ledger: &Ledger, txs: Vec<vellum_node::chain::tx::VerifiedTx>) -> Proposal {
    let (tip, hash) = ledger.tip();
    Proposal {
        context: BlockContext {
            height: tip.height + 1,
            timestamp_ms: tip.timestamp_ms,
            prev_hash: hash,
            prev_state_root: tip.state_root,
        },
        txs,
    }
}

/// A replicated node that has just become leader can admit a client's retry of a transaction
/// that the old leader's block, committed in Raft but not applied here yet, also holds.
/// Applying that block acknowledges the retry with that block's receipt and leaves it out of
/// the next proposal: proposed again, the transaction would be in the chain twice, and a node
/// verifying the chain (a snapshot install, `vellum verify`) would refuse it.
#[test]
fn a_block_applied_from_the_log_takes_its_transactions_out_of_the_next_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = replicated(dir.path());
    let alice = key("alice");
    let action = execute(&[7u8; 20], json!({}));
    let retry = signed(&alice, 0, action.clone());
    let (hash, acked) = ledger.submit(retry.clone()).unwrap();
    ledger.submit(signed(&alice, 1, action)).unwrap();
    assert_eq!(ledger.mempool_len(), 2);

    // The old leader's block, holding the same transaction, arrives through the log.
    let height = ledger.tip().0.height + 1;
    let old_leaders = on_tip(&ledger, vec![ledger.verify(retry).unwrap()]);
    ledger.apply(old_leaders, Vec::new()).unwrap();
    let receipt = acked.blocking_recv().unwrap();
    assert_eq!(receipt.block_height, height);
    assert_eq!(ledger.mempool_len(), 1, "only nonce 1 is left");

    // This node's own next proposal holds nonce 1 alone, and the chain verifies.
    let next = ledger.order_next().unwrap();
    assert_eq!(next.txs.iter().map(|t| t.nonce).collect::<Vec<_>>(), [1]);
    assert_ne!(next.txs[0].hash, hash);
    ledger.apply(next, Vec::new()).unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let report = verify_chain(ledger.store(), CHAIN, &runtime, &mut |_, _| {}).unwrap();
    assert_eq!(report.txs, 2);
    assert_eq!(report.blocks, height + 1);
}

/// Should ordering ever propose a committed transaction again, the store refuses the block
/// whole and the node halts, rather than point the transaction's index at a second copy.
#[test]
fn a_block_holding_a_committed_transaction_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = replicated(dir.path());
    let alice = key("alice");
    let tx = |nonce| {
        ledger
            .verify(signed(&alice, nonce, execute(&[7u8; 20], json!({}))))
            .unwrap()
    };
    let (t0, t1) = (tx(0), tx(1));
    ledger
        .apply(on_tip(&ledger, vec![t0.clone()]), Vec::new())
        .unwrap();
    let before = ledger.tip().1;
    let err = ledger
        .apply(on_tip(&ledger, vec![t1.clone(), t0.clone()]), Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("already in the chain"), "{err}");
    assert!(ledger.halted().is_some());
    assert_eq!(ledger.tip().1, before);
    let store = ledger.store();
    assert!(
        !store.has_tx(&t1.hash).unwrap(),
        "nothing of the block was written"
    );
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.tx_position(&t0.hash).unwrap(), Some((1, 0)));
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let report = verify_chain(store, CHAIN, &runtime, &mut |_, _| {}).unwrap();
    assert_eq!((report.blocks, report.txs), (1, 1));
}

/// Opens a single node's ledger, as the node does.
fn single(dir: &std::path::Path) -> Ledger {
    Ledger::open(LedgerConfig::new(dir, CHAIN)).unwrap()
}

/// Blocks are acknowledged once the journal holds them; redb gets them afterwards. Here redb
/// loses the last run's blocks (its file is put back as it was before that run, as if the
/// applier never wrote them): the next open replays them from the journal, with the hashes
/// and receipts that were acknowledged, and the chain verifies.
#[test]
fn blocks_the_journal_acknowledged_and_redb_lost_are_replayed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let alice = key("alice");
    let before = single(dir.path()).tip();
    let redb = dir.path().join("chain.redb");
    let saved = dir.path().join("saved.redb");
    std::fs::copy(&redb, &saved).unwrap();
    // Everything after genesis, the contract's deployment included, is in the lost run.
    let (tip, receipts) = {
        let ledger = single(dir.path());
        let custody = setup_custody(&ledger, &alice);
        let receipts: Vec<Arc<Receipt>> = (0..3)
            .map(|i| {
                let msg = json!({"register": {"document_id": format!("d{i}"), "sha256": DOC}});
                submit(&ledger, signed(&alice, 2 + i, execute(&custody, msg)))
            })
            .collect();
        (ledger.tip(), receipts)
    };
    assert!(receipts.iter().all(|r| r.success));
    std::fs::copy(&saved, &redb).unwrap();
    // And the compiled-module cache: the replayed deployment compiles the code again.
    std::fs::remove_dir_all(dir.path().join("modules")).unwrap();
    {
        let store = Store::open(&redb).unwrap();
        let at = store.snapshot().unwrap().tip_height().unwrap();
        assert_eq!(at, Some(before.0.height), "redb is back where it was");
    }
    let ledger = single(dir.path());
    assert_eq!(ledger.tip(), tip);
    let snapshot = ledger.snapshot().unwrap();
    for r in &receipts {
        let hash = vellum_node::chain::parse_hex::<32>(&r.tx_hash).unwrap();
        let stored = snapshot.receipt(&hash).unwrap().expect("replayed receipt");
        assert_eq!(stored, r.encode(), "the receipt that was acknowledged");
    }
    assert_eq!(ledger.next_nonce(&addr(&alice)).unwrap(), 5);
    let report = verify_chain(ledger.store(), CHAIN, ledger.runtime(), &mut |_, _| {}).unwrap();
    assert_eq!(report.blocks, tip.0.height);
    // The replayed blocks are in redb now: another open replays nothing and ends equal.
    drop(snapshot);
    drop(ledger);
    assert_eq!(single(dir.path()).tip(), tip);
}

/// A journal record damaged where no crash can damage it (a record with records after it)
/// stops the node from opening, naming the damage, rather than dropping acknowledged blocks.
#[test]
fn a_damaged_journal_record_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let alice = key("alice");
    let custody = setup_custody(&single(dir.path()), &alice);
    let redb = dir.path().join("chain.redb");
    let saved = dir.path().join("saved.redb");
    std::fs::copy(&redb, &saved).unwrap();
    {
        let ledger = single(dir.path());
        for i in 0..3 {
            let msg = json!({"register": {"document_id": format!("d{i}"), "sha256": DOC}});
            assert!(submit(&ledger, signed(&alice, 2 + i, execute(&custody, msg))).success);
        }
    }
    std::fs::copy(&saved, &redb).unwrap();
    let segment = std::fs::read_dir(dir.path().join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // A byte of the first record's transaction (the segment's magic, then the record's
    // length, checksum and fixed fields come first).
    bytes[16 + 36 + 120 + 40] ^= 1;
    std::fs::write(&segment, &bytes).unwrap();
    let err = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap_err();
    assert!(err.to_string().contains("records follow it"), "{err}");
}

fn with_journal(data: &std::path::Path, journal: &std::path::Path) -> LedgerConfig {
    let mut config = LedgerConfig::new(data, CHAIN);
    config.journal_dir = Some(journal.to_path_buf());
    config
}

/// A journal outside the data directory (`--journal-dir`): locked while in use, replayed like
/// the default one, and remembered by the data directory, so that a start pointed elsewhere
/// (or at the default) while it holds acknowledged blocks redb lacks is refused, as is a start
/// while it is missing; a copy of it moved to a new place is accepted.
#[test]
fn a_journal_kept_elsewhere_is_locked_remembered_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (data, journal) = (dir.path().join("data"), dir.path().join("journal-device"));
    let alice = key("alice");
    let before = Ledger::open(with_journal(&data, &journal)).unwrap().tip();
    let redb = data.join("chain.redb");
    let saved = dir.path().join("saved.redb");
    std::fs::copy(&redb, &saved).unwrap();
    let tip = {
        let ledger = Ledger::open(with_journal(&data, &journal)).unwrap();
        let custody = setup_custody(&ledger, &alice);
        let msg = json!({"register": {"document_id": "elsewhere", "sha256": DOC}});
        assert!(submit(&ledger, signed(&alice, 2, execute(&custody, msg))).success);
        let err = vellum_node::journal::JournalLock::acquire(&journal).unwrap_err();
        assert!(err.to_string().contains("in use by another node"), "{err}");
        ledger.tip()
    };
    assert!(tip.0.height > before.0.height);
    assert_eq!(
        std::fs::read(data.join(vellum_node::journal::LOCATION_FILE)).unwrap(),
        journal
            .canonicalize()
            .unwrap()
            .as_os_str()
            .as_encoded_bytes()
    );
    // redb loses the run (as if the applier never wrote it): only the journal has the blocks.
    std::fs::copy(&saved, &redb).unwrap();
    let err = Ledger::open(LedgerConfig::new(&data, CHAIN)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("journal-device") && text.contains("acknowledged blocks"),
        "{text}"
    );
    // The journal's device is not mounted: nothing there, nothing configured that could be it.
    let moved = dir.path().join("journal-moved");
    std::fs::rename(&journal, &moved).unwrap();
    let err = Ledger::open(LedgerConfig::new(&data, CHAIN)).unwrap_err();
    assert!(err.to_string().contains("which is missing"), "{err}");
    // Moved for good, and said so: replayed from there, remembered there.
    let ledger = Ledger::open(with_journal(&data, &moved)).unwrap();
    assert_eq!(ledger.tip(), tip);
    drop(ledger);
    assert_eq!(
        std::fs::read(data.join(vellum_node::journal::LOCATION_FILE)).unwrap(),
        moved.canonicalize().unwrap().as_os_str().as_encoded_bytes()
    );
    // Everything is in redb now: the default journal is acceptable again, and is recorded
    // as the default (no location file), so the data directory can move with it inside.
    assert_eq!(single(&data).tip(), tip);
    assert!(!data.join(vellum_node::journal::LOCATION_FILE).exists());
}

/// Two chains' nodes given one journal directory by mistake, one after the other: the second
/// finds blocks of the first at heights it already has. Skipping them as applied would let
/// `Journal::start` delete them; they are refused instead, and the journal is left as it was.
#[test]
fn a_journal_of_another_chain_is_refused_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared-journal");
    let first = dir.path().join("first");
    {
        let ledger = Ledger::open(with_journal(&first, &shared)).unwrap();
        setup_custody(&ledger, &key("alice"));
    }
    let second = dir.path().join("second");
    {
        let ledger = single(&second);
        let bob = key("bob");
        let custody = setup_custody(&ledger, &bob);
        for i in 0..3 {
            let msg = json!({"register": {"document_id": format!("b{i}"), "sha256": DOC}});
            assert!(submit(&ledger, signed(&bob, 2 + i, execute(&custody, msg))).success);
        }
    }
    let segments = |d: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "journal"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        v.sort();
        v
    };
    let kept = segments(&shared);
    assert!(!kept.is_empty());
    let err = Ledger::open(with_journal(&second, &shared)).unwrap_err();
    assert!(
        err.to_string().contains("belongs to another chain"),
        "{err}"
    );
    assert_eq!(
        segments(&shared),
        kept,
        "the other chain's journal is untouched"
    );
}
