//! What must hold in a store after a crash (`docs/testing-faults.md`): read with the node
//! stopped, straight from `chain.redb`, once [`replay`] has applied what the journal holds.

use std::path::Path;

use vellum_node::chain::block::Receipt;
use vellum_node::chain::{Hash, parse_hex, sha256};
use vellum_node::store::{Snapshot, Store};
use vellum_node::verify::{VerifyReport, verify_chain};
use vellum_runtime::Runtime;

/// Does what a restart of the stopped node in `data_dir` does first: opens its ledger, which
/// replays the blocks its journal acknowledged and redb did not get before the crash, and
/// closes it again. Returns how many blocks were replayed.
pub fn replay(data_dir: &Path) -> usize {
    let chain_id = {
        let store = open(data_dir);
        let snap = store.snapshot().unwrap();
        String::from_utf8(snap.meta("chain_id").unwrap().expect("a chain id")).unwrap()
    };
    vellum_node::ledger::Ledger::open(vellum_node::ledger::LedgerConfig::new(data_dir, chain_id))
        .unwrap_or_else(|e| panic!("reopening {}: {e}", data_dir.display()))
        .replayed_at_open()
}

/// Opens the store of a stopped node in `data_dir`.
pub fn open(data_dir: &Path) -> Store {
    Store::open(&data_dir.join("chain.redb")).unwrap()
}

/// The tip height.
pub fn tip(snap: &Snapshot) -> u64 {
    snap.tip_height().unwrap().expect("a chain has a tip")
}

/// The hash of the stored header at `height` (SHA-256 of its exact bytes).
pub fn block_hash(snap: &Snapshot, height: u64) -> Option<Hash> {
    snap.header_bytes(height).unwrap().map(|b| sha256(&[&b]))
}

/// Every acknowledged transaction is committed where its receipt says, and its stored receipt
/// is byte for byte the one the node sent.
pub fn check_acked(snap: &Snapshot, acked: &[(String, Receipt)], what: &str) {
    for (hash, receipt) in acked {
        let h = parse_hex::<32>(hash).unwrap();
        assert_eq!(
            snap.tx_position(&h).unwrap(),
            Some((receipt.block_height, receipt.index)),
            "{what}: acknowledged transaction {hash} is missing or moved"
        );
        assert!(snap.tx(&h).unwrap().is_some(), "{what}: {hash} record");
        assert_eq!(
            snap.receipt(&h).unwrap().as_deref(),
            Some(receipt.encode().as_slice()),
            "{what}: the stored receipt of {hash} is not the acknowledged one"
        );
        assert!(receipt.success, "{what}: {hash}: {:?}", receipt.error);
    }
}

/// A transaction sent without an answer is committed wholly (record, index, receipt, at or
/// below the tip) or not at all.
pub fn check_unanswered(snap: &Snapshot, hashes: &[String], what: &str) {
    let tip = tip(snap);
    for hash in hashes {
        let h = parse_hex::<32>(hash).unwrap();
        if let Some((height, index)) = snap.tx_position(&h).unwrap() {
            assert!(height <= tip, "{what}: {hash} indexed beyond the tip");
            assert!(
                snap.tx_at(height, index).unwrap().is_some(),
                "{what}: {hash}"
            );
            assert!(
                snap.receipt_at(height, index).unwrap().is_some(),
                "{what}: {hash}"
            );
            assert!(
                snap.block_tx_hashes(height).unwrap().get(index as usize) == Some(&h),
                "{what}: {hash} not listed in its block"
            );
        }
    }
}

/// Whether block `height` is in the store, asserting it is there wholly or not at all: header,
/// hash index, transaction list, every transaction, index entry and receipt.
pub fn block_present(snap: &Snapshot, height: u64, what: &str) -> bool {
    let header = snap.header(height).unwrap();
    let listed = snap.block_tx_hashes(height).unwrap();
    let Some(header) = header else {
        assert!(
            listed.is_empty(),
            "{what}: block {height}: transactions without a header"
        );
        assert!(
            snap.tx_at(height, 0).unwrap().is_none(),
            "{what}: block {height}: a transaction record without a header"
        );
        assert!(
            snap.receipt_at(height, 0).unwrap().is_none(),
            "{what}: block {height}: a receipt without a header"
        );
        return false;
    };
    assert_eq!(
        snap.height_of(&header.hash()).unwrap(),
        Some(height),
        "{what}: block {height}: hash index"
    );
    assert_eq!(
        listed.len(),
        header.tx_count as usize,
        "{what}: block {height}: transaction list"
    );
    for (i, h) in listed.iter().enumerate() {
        assert!(
            snap.tx_at(height, i as u32).unwrap().is_some(),
            "{what}: block {height} tx {i}"
        );
        assert!(
            snap.receipt_at(height, i as u32).unwrap().is_some(),
            "{what}: block {height} receipt {i}"
        );
        assert_eq!(
            snap.tx_position(h).unwrap(),
            Some((height, i as u32)),
            "{what}: block {height} index {i}"
        );
    }
    assert!(
        snap.tx_at(height, listed.len() as u32).unwrap().is_none(),
        "{what}: block {height}: a transaction record beyond its list"
    );
    true
}

/// Nothing of any block above the tip, and every table holds exactly the rows of the blocks up
/// to the tip (`txs_total` transactions after genesis).
pub fn check_rows(snap: &Snapshot, txs_total: u64, what: &str) {
    let tip = tip(snap);
    assert!(
        !block_present(snap, tip + 1, what),
        "{what}: a block above the tip"
    );
    let lens = snap.table_lens().unwrap();
    assert_eq!(lens.headers, tip + 1, "{what}: headers");
    assert_eq!(lens.block_hashes, tip + 1, "{what}: block hash index");
    assert_eq!(lens.block_txs, tip + 1, "{what}: transaction lists");
    assert_eq!(lens.txs, txs_total, "{what}: transaction records");
    assert_eq!(lens.receipts, txs_total, "{what}: receipts");
    assert_eq!(lens.tx_index, txs_total, "{what}: transaction index");
}

/// The number of transactions in blocks `from..=to`.
pub fn tx_count(snap: &Snapshot, from: u64, to: u64) -> u64 {
    (from..=to)
        .map(|h| u64::from(snap.header(h).unwrap().unwrap().tx_count))
        .sum()
}

/// Verifies the chain from genesis (hashes, links, roots, signatures, re-execution, event
/// index, rows) and checks that the replayed state root is the tip's.
pub fn verify(store: &Store, chain_id: &str, runtime: &Runtime, what: &str) -> VerifyReport {
    let report = verify_chain(store, chain_id, runtime, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{what}: the chain does not verify: {e}"));
    let snap = store.snapshot().unwrap();
    let tip = snap.header(tip(&snap)).unwrap().unwrap();
    assert_eq!(report.blocks, tip.height, "{what}");
    assert_eq!(
        report.state_root, tip.state_root,
        "{what}: replayed state root differs from the stored one"
    );
    report
}
