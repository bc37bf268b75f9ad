//! Offline verification of a whole chain: every hash, link and Merkle root recomputed from
//! genesis, every signature checked again, every block re-executed on a fresh state, and the
//! final state compared with the stored one. It reports the first block and field that
//! disagree.

use std::sync::Arc;

use vellum_runtime::Runtime;

use crate::chain::block::Header;
use crate::chain::tx::{KeyCache, verify_envelope};
use crate::chain::{Hash, merkle, sha256};
use crate::execute::{BlockContext, MemoryBase, StateBase, execute_block, genesis};
use crate::store::{Snapshot, Store, StoreError};

/// What disagreed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {height}: {field}: {detail}")]
pub struct Mismatch {
    /// The first block that disagrees (for the final state comparison, the tip).
    pub height: u64,
    /// Which field: `header`, `hash_index`, `prev_hash`, `timestamp`, `tx`, `tx_root`,
    /// `receipt`, `receipt_root`, `state_root`, `tx_count`, `events`, `state`, `rows`.
    pub field: &'static str,
    /// Human detail (which transaction or key).
    pub detail: String,
}

/// Why verification could not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The chain disagrees with itself.
    #[error("verification failed at {0}")]
    Mismatch(#[from] Mismatch),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Re-execution failed for a reason that is not the chain's (engine, IO).
    #[error("re-execution: {0}")]
    Execute(String),
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks checked after genesis.
    pub blocks: u64,
    /// Transactions re-verified and re-executed.
    pub txs: u64,
    /// State entries compared.
    pub state_entries: u64,
    /// Event-index entries compared.
    pub events: u64,
    /// The state root of the tip, recomputed.
    pub state_root: Hash,
}

fn mismatch(height: u64, field: &'static str, detail: impl Into<String>) -> VerifyError {
    VerifyError::Mismatch(Mismatch {
        height,
        field,
        detail: detail.into(),
    })
}

/// Verifies the chain in `store` from genesis. `progress(height, tip)` is called after each
/// block.
pub fn verify_chain(
    store: &Store,
    chain_id: &str,
    runtime: &Runtime,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let snap = store.snapshot()?;
    let tip = snap
        .tip_height()?
        .ok_or_else(|| mismatch(0, "header", "the store has no genesis block"))?;
    let genesis_bytes = snap
        .header_bytes(0)?
        .ok_or_else(|| mismatch(0, "header", "missing"))?;
    let genesis_header =
        Header::decode(&genesis_bytes).map_err(|e| mismatch(0, "header", e.to_string()))?;
    let expected = genesis(chain_id, genesis_header.timestamp_ms);
    if genesis_header != expected {
        return Err(mismatch(0, "header", "genesis does not match the chain id"));
    }
    let keys = KeyCache::default();
    let mut state = Arc::new(MemoryBase::default());
    let mut prev = genesis_header;
    let mut prev_hash = sha256(&[&genesis_bytes]);
    let mut txs_total = 0u64;
    let mut events_total = 0u64;
    progress(0, tip);
    for height in 1..=tip {
        let bytes = snap
            .header_bytes(height)?
            .ok_or_else(|| mismatch(height, "header", "missing"))?;
        let header =
            Header::decode(&bytes).map_err(|e| mismatch(height, "header", e.to_string()))?;
        let hash = sha256(&[&bytes]);
        if header.height != height {
            return Err(mismatch(
                height,
                "header",
                format!("says height {}", header.height),
            ));
        }
        if snap.height_of(&hash)? != Some(height) {
            return Err(mismatch(
                height,
                "hash_index",
                "the header's hash does not index this block",
            ));
        }
        if header.prev_hash != prev_hash {
            return Err(mismatch(
                height,
                "prev_hash",
                "does not match the previous block's hash",
            ));
        }
        if header.timestamp_ms < prev.timestamp_ms {
            return Err(mismatch(
                height,
                "timestamp",
                "earlier than the previous block's",
            ));
        }
        let tx_hashes = snap.block_tx_hashes(height)?;
        if header.tx_count as usize != tx_hashes.len() {
            return Err(mismatch(
                height,
                "tx_count",
                format!(
                    "{} listed, header says {}",
                    tx_hashes.len(),
                    header.tx_count
                ),
            ));
        }
        let txs = load_txs(&snap, height, &tx_hashes, chain_id, &keys)?;
        if merkle::root(&tx_hashes) != header.tx_root {
            return Err(mismatch(
                height,
                "tx_root",
                "does not match the transactions",
            ));
        }
        let ctx = BlockContext {
            height,
            timestamp_ms: header.timestamp_ms,
            prev_hash,
            prev_state_root: prev.state_root,
        };
        let base: Arc<dyn StateBase> = state.clone();
        let executed = execute_block(runtime, base, ctx, &txs)
            .map_err(|e| VerifyError::Execute(e.to_string()))?;
        for (tx_hash, replayed) in &executed.batch.receipts {
            let stored = snap.receipt(tx_hash)?;
            if stored.as_deref() != Some(replayed.as_slice()) {
                return Err(mismatch(
                    height,
                    "receipt",
                    format!("transaction {}", hex::encode(tx_hash)),
                ));
            }
        }
        // The event index is derived, but it is written in the block's transaction: every entry
        // re-execution derives must be there, pointing at its transaction.
        let mut event_keys: Vec<&Vec<u8>> = Vec::with_capacity(executed.batch.events.len());
        for (key, tx_hash) in &executed.batch.events {
            if snap.event(key)? != Some(*tx_hash) {
                return Err(mismatch(
                    height,
                    "events",
                    format!(
                        "index entry of transaction {} missing or different",
                        hex::encode(tx_hash)
                    ),
                ));
            }
            event_keys.push(key);
        }
        event_keys.sort_unstable();
        event_keys.dedup();
        events_total += event_keys.len() as u64;
        if executed.header.receipt_root != header.receipt_root {
            return Err(mismatch(
                height,
                "receipt_root",
                "does not match the receipts",
            ));
        }
        if executed.header.state_root != header.state_root {
            return Err(mismatch(
                height,
                "state_root",
                "re-execution reached another state",
            ));
        }
        Arc::get_mut(&mut state)
            .ok_or_else(|| VerifyError::Execute("replay state still shared".into()))?
            .apply(&executed.batch.writes);
        txs_total += txs.len() as u64;
        prev = header;
        prev_hash = hash;
        progress(height, tip);
    }
    let state_entries = compare_state(&snap, &state, tip)?;
    // No table holds rows the blocks up to the tip do not account for: a block beyond the tip
    // (or part of one) left behind by a crash would show up here.
    let lens = snap.table_lens()?;
    let rows = [
        ("headers", lens.headers, tip + 1),
        ("block_hashes", lens.block_hashes, tip + 1),
        ("block_txs", lens.block_txs, tip + 1),
        ("txs", lens.txs, txs_total),
        ("receipts", lens.receipts, txs_total),
        ("tx_index", lens.tx_index, txs_total),
        ("events", lens.events, events_total),
    ];
    for (table, stored, expected) in rows {
        if stored != expected {
            return Err(mismatch(
                tip,
                "rows",
                format!("table {table} holds {stored} entries, the chain accounts for {expected}"),
            ));
        }
    }
    Ok(VerifyReport {
        blocks: tip,
        txs: txs_total,
        state_entries,
        events: events_total,
        state_root: prev.state_root,
    })
}

fn load_txs(
    snap: &Snapshot,
    height: u64,
    hashes: &[Hash],
    chain_id: &str,
    keys: &KeyCache,
) -> Result<Vec<crate::chain::tx::VerifiedTx>, VerifyError> {
    let mut out = Vec::with_capacity(hashes.len());
    for (index, hash) in hashes.iter().enumerate() {
        let what = || format!("transaction {}", hex::encode(hash));
        let stored = snap
            .tx_at(height, index as u32)?
            .ok_or_else(|| mismatch(height, "tx", format!("{} missing", what())))?;
        if snap.tx_position(hash)? != Some((height, index as u32)) {
            return Err(mismatch(
                height,
                "tx",
                format!("{} is indexed at another position", what()),
            ));
        }
        let tx = verify_envelope(stored.envelope, chain_id, keys)
            .map_err(|e| mismatch(height, "tx", format!("{}: {e}", what())))?;
        if tx.hash != *hash {
            return Err(mismatch(
                height,
                "tx",
                format!("{}: payload hashes to {}", what(), hex::encode(tx.hash)),
            ));
        }
        out.push(tx);
    }
    Ok(out)
}

/// Compares the replayed state with the stored state table, entry by entry.
fn compare_state(snap: &Snapshot, replayed: &MemoryBase, tip: u64) -> Result<u64, VerifyError> {
    let mut stored = snap.state_iter()?;
    let mut ours = replayed.0.iter();
    let mut count = 0u64;
    loop {
        match (stored.next().transpose()?, ours.next()) {
            (None, None) => return Ok(count),
            (Some((k, _)), None) => {
                return Err(mismatch(
                    tip,
                    "state",
                    format!("stored key {} was never written", hex::encode(k)),
                ));
            }
            (None, Some((k, _))) => {
                return Err(mismatch(
                    tip,
                    "state",
                    format!("key {} is missing from the store", hex::encode(k)),
                ));
            }
            (Some((sk, sv)), Some((rk, rv))) => {
                if sk != *rk {
                    let k = if sk < *rk { &sk } else { rk };
                    return Err(mismatch(
                        tip,
                        "state",
                        format!("key {} differs", hex::encode(k)),
                    ));
                }
                if sv != *rv {
                    return Err(mismatch(
                        tip,
                        "state",
                        format!("value of key {} differs", hex::encode(sk)),
                    ));
                }
                count += 1;
            }
        }
    }
}
