//! The redb store: every block is committed in one write transaction with immediate durability
//! and two-phase commit (the data is untrusted, and redb's default checksum is not
//! cryptographic), so after a crash the store holds every acknowledged block and never part of
//! one. Layouts are specified in `docs/chain-format.md`.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use crate::chain::block::{Header, HeaderDecodeError};
use crate::chain::tx::{PUBLIC_KEY_BYTES, SIGNATURE_BYTES};
use crate::chain::{Address, Hash};
use vellum_runtime::Entries;

/// Headers by height: the 156-byte canonical encoding.
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// Height by block hash.
const BLOCK_HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
/// The transaction hashes of a block, concatenated in order.
const BLOCK_TXS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_txs");
/// Transactions by position (height u64 BE, index u32 BE): the record of [`StoredTx::encode`].
/// Positions only grow, so a block's transactions are appended, not scattered.
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// Receipts by position: their canonical JSON bytes.
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
/// Position (height u64 BE, index u32 BE) of every transaction, by hash.
const TX_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tx_index");
/// All state, in the key space of [`keys`].
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Event index: see [`keys::event`]; the value is the transaction hash.
const EVENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("events");
/// Small facts: `tip` (height, u64 BE) and `chain_id`.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The key space of the state table. Every piece of state the chain commits to lives here, so
/// that the state root and verification see all of it.
pub mod keys {
    use crate::chain::{Address, Hash};

    /// Prefix of code: `0x01 || code_hash` → wasm bytes.
    pub const CODE: u8 = 0x01;
    /// Prefix of contract metadata: `0x02 || address` → JSON.
    pub const CONTRACT: u8 = 0x02;
    /// Prefix of account nonces: `0x03 || address` → next nonce, u64 BE.
    pub const NONCE: u8 = 0x03;
    /// Prefix of contract storage: `0x04 || contract || key` → value.
    pub const STORAGE: u8 = 0x04;

    /// Key of a code.
    pub fn code(hash: &Hash) -> Vec<u8> {
        [&[CODE][..], hash].concat()
    }
    /// Key of a contract's metadata.
    pub fn contract(address: &Address) -> Vec<u8> {
        [&[CONTRACT][..], address].concat()
    }
    /// Key of an account's nonce.
    pub fn nonce(address: &Address) -> Vec<u8> {
        [&[NONCE][..], address].concat()
    }
    /// Prefix of a contract's storage.
    pub fn storage_prefix(contract: &Address) -> Vec<u8> {
        [&[STORAGE][..], contract].concat()
    }

    /// Prefix of the event index for one attribute of one contract:
    /// `contract || u16be len(key) || key || u16be len(value) || value`.
    pub fn event_prefix(contract: &Address, key: &str, value: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(24 + key.len() + value.len());
        k.extend_from_slice(contract);
        k.extend_from_slice(&(key.len() as u16).to_be_bytes());
        k.extend_from_slice(key.as_bytes());
        k.extend_from_slice(&(value.len() as u16).to_be_bytes());
        k.extend_from_slice(value.as_bytes());
        k
    }

    /// Full event-index key: the prefix, then height (u64 BE), transaction index (u32 BE) and
    /// event index (u16 BE), so entries sort in chain order.
    pub fn event(prefix: &[u8], height: u64, tx_index: u32, event_index: u16) -> Vec<u8> {
        let mut k = Vec::with_capacity(prefix.len() + 14);
        k.extend_from_slice(prefix);
        k.extend_from_slice(&height.to_be_bytes());
        k.extend_from_slice(&tx_index.to_be_bytes());
        k.extend_from_slice(&event_index.to_be_bytes());
        k
    }
}

/// The `meta` table's entries, by key.
pub type MetaEntries = BTreeMap<String, Vec<u8>>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb failed (IO, corruption it detected, ...).
    #[error("storage: {0}")]
    Redb(String),
    /// Stored bytes do not decode: the store was damaged or tampered with.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A block holds a transaction the chain already has. Nothing of the block is written.
    /// Only a bug in ordering can cause it; the node halts rather than let the transaction's
    /// index point at a second copy.
    #[error("transaction {0} is already in the chain: a block may not hold it again")]
    DuplicateTx(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Redb(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<HeaderDecodeError> for StoreError {
    fn from(e: HeaderDecodeError) -> Self {
        Self::Corrupt(e.to_string())
    }
}

/// Everything one block changes, written atomically by [`Store::commit`].
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// The header.
    pub header: Option<Header>,
    /// Transactions: hash and stored record (height, index, envelope JSON).
    pub txs: Vec<(Hash, Vec<u8>)>,
    /// Receipts: transaction hash and canonical bytes.
    pub receipts: Vec<(Hash, Vec<u8>)>,
    /// Net state changes (`None` removes). Shared: the next block executes on top of them
    /// while this one is being written.
    pub writes: std::sync::Arc<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    /// Event-index entries: key and transaction hash.
    pub events: Vec<(Vec<u8>, Hash)>,
    /// Facts written into the `meta` table with the block (the replicated node records the
    /// Raft log position the block was applied from, so both are durable together).
    pub meta: Vec<(&'static str, Vec<u8>)>,
}

/// The first bytes of a chain image ([`Store::export`]).
const IMAGE_MAGIC: &[u8; 16] = b"vellum-image/v1\n";
/// The tables of a chain image, in order.
const IMAGE_TABLES: [&str; 9] = [
    "meta",
    "headers",
    "block_hashes",
    "block_txs",
    "txs",
    "receipts",
    "tx_index",
    "state",
    "events",
];

/// The byte-keyed, byte-valued tables by name.
fn byte_table(
    name: &str,
) -> Result<TableDefinition<'static, &'static [u8], &'static [u8]>, StoreError> {
    Ok(match name {
        "txs" => TXS,
        "receipts" => RECEIPTS,
        "tx_index" => TX_INDEX,
        "state" => STATE,
        "events" => EVENTS,
        _ => return Err(StoreError::Corrupt(format!("no byte table `{name}`"))),
    })
}

/// Space the store takes, from redb's statistics.
#[derive(Debug, Clone)]
pub struct StoreSpace {
    /// redb's page size.
    pub page_bytes: u64,
    /// Bytes of all allocated pages (the rest of the file is free space redb may reuse).
    pub allocated_bytes: u64,
    /// Each table.
    pub tables: Vec<TableSpace>,
}

/// Space one table takes, from redb's statistics.
#[derive(Debug, Clone)]
pub struct TableSpace {
    /// The table's name (see `docs/chain-format.md`).
    pub name: &'static str,
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of keys in branch pages and other metadata.
    pub metadata_bytes: u64,
    /// Bytes lost to fragmentation inside its pages.
    pub fragmented_bytes: u64,
}

impl TableSpace {
    /// Everything the table takes: keys and values, metadata and fragmentation.
    pub fn space_bytes(&self) -> u64 {
        self.stored_bytes + self.metadata_bytes + self.fragmented_bytes
    }
}

/// One state entry: key and value.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// The database.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

/// A stored transaction: where it is and the envelope exactly as received.
#[derive(Debug, Clone)]
pub struct StoredTx {
    /// Block that committed it.
    pub height: u64,
    /// Position in that block.
    pub index: u32,
    /// The envelope.
    pub envelope: crate::chain::tx::Envelope,
}

/// The 12-byte position key of a transaction: height (u64 BE) then index (u32 BE).
pub fn position(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Bytes before the payload in a transaction record: the key, then the signature.
const RECORD_PREFIX_BYTES: usize = PUBLIC_KEY_BYTES + SIGNATURE_BYTES;

/// The one layout of a transaction record: key, signature, payload as received.
fn record_bytes(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    signature: &[u8; SIGNATURE_BYTES],
    payload: &str,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_PREFIX_BYTES + payload.len());
    v.extend_from_slice(public_key);
    v.extend_from_slice(signature);
    v.extend_from_slice(payload.as_bytes());
    v
}

impl StoredTx {
    /// Encodes an envelope: the 33-byte public key, the 64-byte signature, then the payload
    /// bytes as received. `None` if the key or signature is not hex of that length (verified
    /// transactions always are).
    pub fn encode(envelope: &crate::chain::tx::Envelope) -> Option<Vec<u8>> {
        let mut public_key = [0u8; PUBLIC_KEY_BYTES];
        let mut signature = [0u8; SIGNATURE_BYTES];
        hex::decode_to_slice(&envelope.public_key, &mut public_key).ok()?;
        hex::decode_to_slice(&envelope.signature, &mut signature).ok()?;
        Some(record_bytes(&public_key, &signature, &envelope.payload))
    }

    /// The record of a verified transaction, from the key and signature verification already
    /// decoded: equal to [`StoredTx::encode`] of its envelope without decoding the hex again
    /// (that cost the execution stage about 8 % of its time).
    pub fn record(tx: &crate::chain::tx::VerifiedTx) -> Vec<u8> {
        record_bytes(&tx.public_key, &tx.signature, &tx.envelope.payload)
    }

    /// Decodes a record [`StoredTx::record`] wrote, for the transaction at `height`/`index`.
    pub fn decode(height: u64, index: u32, bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("transaction record at {height}/{index}"));
        if bytes.len() < RECORD_PREFIX_BYTES {
            return Err(corrupt());
        }
        let payload =
            String::from_utf8(bytes[RECORD_PREFIX_BYTES..].to_vec()).map_err(|_| corrupt())?;
        Ok(Self {
            height,
            index,
            envelope: crate::chain::tx::Envelope {
                payload,
                public_key: hex::encode(&bytes[..PUBLIC_KEY_BYTES]),
                signature: hex::encode(&bytes[PUBLIC_KEY_BYTES..RECORD_PREFIX_BYTES]),
            },
        })
    }
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // redb's default cache is 1 GiB and fills as the chain grows: a node's resident memory
        // would climb for as long as it runs (the load soak measured 317,132 KiB after one
        // minute and 1,153,620 KiB from minute six on). The operating system's page cache still
        // holds the rest.
        let db = Database::builder()
            .set_cache_size(crate::limits::STORE_CACHE_BYTES)
            .create(path)?;
        let store = Self { db };
        // Create every table so that readers never meet a missing one.
        let txn = store.db.begin_write()?;
        {
            txn.open_table(HEADERS)?;
            txn.open_table(BLOCK_HASHES)?;
            txn.open_table(BLOCK_TXS)?;
            txn.open_table(TXS)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(TX_INDEX)?;
            txn.open_table(STATE)?;
            txn.open_table(EVENTS)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(store)
    }

    /// Commits one block: everything or nothing, durable when this returns.
    pub fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.commit_blocks(std::slice::from_ref(batch))
    }

    /// Commits consecutive blocks, oldest first, in one redb transaction: all of them or none,
    /// durable when this returns. One two-phase commit then serves several blocks (the
    /// applier behind the journal catches up this way, see `crate::journal`). Later blocks'
    /// state writes override earlier ones'.
    pub fn commit_blocks(&self, batches: &[CommitBatch]) -> Result<(), StoreError> {
        // Failpoints (`crate::failpoints`, the `failpoints` feature): nothing without it.
        crate::failpoint!("store.commit.before_begin", error);
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_two_phase_commit(true);
        {
            let mut headers = txn.open_table(HEADERS)?;
            let mut block_hashes = txn.open_table(BLOCK_HASHES)?;
            let mut block_txs = txn.open_table(BLOCK_TXS)?;
            let mut meta = txn.open_table(META)?;
            let mut txs = txn.open_table(TXS)?;
            let mut index = txn.open_table(TX_INDEX)?;
            let mut receipts = txn.open_table(RECEIPTS)?;
            for batch in batches {
                if let Some(header) = &batch.header {
                    let hash = header.hash();
                    headers.insert(header.height, header.encode().as_slice())?;
                    block_hashes.insert(hash.as_slice(), header.height)?;
                    let tx_hashes: Vec<u8> = batch.txs.iter().flat_map(|(h, _)| *h).collect();
                    block_txs.insert(header.height, tx_hashes.as_slice())?;
                    meta.insert("tip", header.height.to_be_bytes().as_slice())?;
                }
                let height = batch.header.map_or(0, |h| h.height);
                let mut by_hash = Vec::with_capacity(batch.txs.len());
                for (i, (hash, record)) in batch.txs.iter().enumerate() {
                    let at = position(height, i as u32);
                    txs.insert(at.as_slice(), record.as_slice())?;
                    by_hash.push((hash, at));
                }
                // Hashes are random: inserting them in key order touches each B-tree page once.
                by_hash.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (hash, at) in by_hash {
                    // redb hands back the value an insert replaces, so this check costs nothing.
                    if index.insert(hash.as_slice(), at.as_slice())?.is_some() {
                        return Err(StoreError::DuplicateTx(hex::encode(hash)));
                    }
                }
                for (i, (_, bytes)) in batch.receipts.iter().enumerate() {
                    receipts.insert(position(height, i as u32).as_slice(), bytes.as_slice())?;
                }
            }
            crate::failpoint!("store.commit.after_block_rows", error);
            let mut state = txn.open_table(STATE)?;
            for batch in batches {
                for (key, value) in batch.writes.iter() {
                    match value {
                        Some(v) => {
                            state.insert(key.as_slice(), v.as_slice())?;
                        }
                        None => {
                            state.remove(key.as_slice())?;
                        }
                    }
                }
            }
            crate::failpoint!("store.commit.after_state", error);
            let mut events = txn.open_table(EVENTS)?;
            for batch in batches {
                let mut sorted: Vec<&(Vec<u8>, Hash)> = batch.events.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                for (key, tx) in sorted {
                    events.insert(key.as_slice(), tx.as_slice())?;
                }
                for (key, value) in &batch.meta {
                    meta.insert(*key, value.as_slice())?;
                }
            }
        }
        crate::failpoint!("store.commit.before_commit", error);
        txn.commit()?;
        crate::failpoint!("store.commit.after_commit", error);
        Ok(())
    }

    /// Writes facts into the `meta` table durably, without a block.
    pub fn put_meta(&self, entries: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        {
            let mut meta = txn.open_table(META)?;
            for (key, value) in entries {
                meta.insert(*key, *value)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The whole store as one byte image (a Raft snapshot: the chain at its tip), read from one
    /// consistent snapshot, with the `meta` table's entries beside it. Layout: the magic, then
    /// for each table of [`IMAGE_TABLES`] in order a u64 BE count and that many entries, each
    /// `u32 BE key length, key, u32 BE value length, value` (u64 keys and values as 8 bytes BE).
    pub fn export(&self) -> Result<(Vec<u8>, MetaEntries), StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = IMAGE_MAGIC.to_vec();
        let mut meta_out = BTreeMap::new();
        fn put(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
            out.extend_from_slice(&(k.len() as u32).to_be_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v);
        }
        for name in IMAGE_TABLES {
            let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            match name {
                "headers" | "block_txs" => {
                    let def = if name == "headers" {
                        HEADERS
                    } else {
                        BLOCK_TXS
                    };
                    for e in txn.open_table(def)?.iter()? {
                        let (k, v) = e?;
                        entries.push((k.value().to_be_bytes().to_vec(), v.value().to_vec()));
                    }
                }
                "block_hashes" => {
                    for e in txn.open_table(BLOCK_HASHES)?.iter()? {
                        let (k, v) = e?;
                        entries.push((k.value().to_vec(), v.value().to_be_bytes().to_vec()));
                    }
                }
                "meta" => {
                    for e in txn.open_table(META)?.iter()? {
                        let (k, v) = e?;
                        meta_out.insert(k.value().to_string(), v.value().to_vec());
                        entries.push((k.value().as_bytes().to_vec(), v.value().to_vec()));
                    }
                }
                other => {
                    for e in txn.open_table(byte_table(other)?)?.iter()? {
                        let (k, v) = e?;
                        entries.push((k.value().to_vec(), v.value().to_vec()));
                    }
                }
            }
            out.extend_from_slice(&(entries.len() as u64).to_be_bytes());
            for (k, v) in &entries {
                put(&mut out, k, v);
            }
        }
        Ok((out, meta_out))
    }

    /// Replaces the whole content of the store with an image from [`Store::export`], in one
    /// durable transaction. The image is checked only for its framing: verify what it holds
    /// (`crate::verify::verify_chain` on a scratch store) before importing it into a live one.
    pub fn import(&self, image: &[u8]) -> Result<(), StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("chain image: {what}"));
        let mut rest = image
            .strip_prefix(IMAGE_MAGIC.as_slice())
            .ok_or_else(|| bad("wrong magic"))?;
        fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            if rest.len() < n {
                return None;
            }
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Some(head)
        }
        fn int<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
            take(rest, N)?.try_into().ok()
        }
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_two_phase_commit(true);
        for name in IMAGE_TABLES {
            let count = u64::from_be_bytes(int::<8>(&mut rest).ok_or_else(|| bad("truncated"))?);
            let mut entries = Vec::new();
            for _ in 0..count {
                let kl = u32::from_be_bytes(int::<4>(&mut rest).ok_or_else(|| bad("truncated"))?);
                let k = take(&mut rest, kl as usize).ok_or_else(|| bad("truncated"))?;
                let vl = u32::from_be_bytes(int::<4>(&mut rest).ok_or_else(|| bad("truncated"))?);
                let v = take(&mut rest, vl as usize).ok_or_else(|| bad("truncated"))?;
                entries.push((k, v));
            }
            let u64_of = |b: &[u8]| -> Result<u64, StoreError> {
                Ok(u64::from_be_bytes(
                    b.try_into().map_err(|_| bad("integer is not 8 bytes"))?,
                ))
            };
            match name {
                "headers" | "block_txs" => {
                    let def = if name == "headers" {
                        HEADERS
                    } else {
                        BLOCK_TXS
                    };
                    txn.delete_table(def)?;
                    let mut t = txn.open_table(def)?;
                    for (k, v) in entries {
                        t.insert(u64_of(k)?, v)?;
                    }
                }
                "block_hashes" => {
                    txn.delete_table(BLOCK_HASHES)?;
                    let mut t = txn.open_table(BLOCK_HASHES)?;
                    for (k, v) in entries {
                        t.insert(k, u64_of(v)?)?;
                    }
                }
                "meta" => {
                    txn.delete_table(META)?;
                    let mut t = txn.open_table(META)?;
                    for (k, v) in entries {
                        let k = std::str::from_utf8(k).map_err(|_| bad("meta key"))?;
                        t.insert(k, v)?;
                    }
                }
                other => {
                    let def = byte_table(other)?;
                    txn.delete_table(def)?;
                    let mut t = txn.open_table(def)?;
                    for (k, v) in entries {
                        t.insert(k, v)?;
                    }
                }
            }
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        txn.commit()?;
        Ok(())
    }

    /// Records the chain id the first time; afterwards checks it.
    pub fn check_chain_id(&self, chain_id: &str) -> Result<(), StoreError> {
        let snap = self.snapshot()?;
        let stored = snap.meta.get("chain_id")?.map(|v| v.value().to_vec());
        match stored {
            Some(c) if c == chain_id.as_bytes() => Ok(()),
            Some(c) => Err(StoreError::Corrupt(format!(
                "this data directory belongs to chain `{}`, not `{chain_id}`",
                String::from_utf8_lossy(&c)
            ))),
            None => {
                let txn = self.db.begin_write()?;
                txn.open_table(META)?
                    .insert("chain_id", chain_id.as_bytes())?;
                txn.commit()?;
                Ok(())
            }
        }
    }

    /// The committed nonce of an account, reading only the state table (the admission path).
    pub fn committed_nonce(&self, address: &Address) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let state = txn.open_table(STATE)?;
        match state.get(keys::nonce(address).as_slice())? {
            Some(v) => {
                let b: [u8; 8] = v
                    .value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("nonce".into()))?;
                Ok(u64::from_be_bytes(b))
            }
            None => Ok(0),
        }
    }

    /// Whether a transaction is committed, reading only the transaction index.
    pub fn has_tx(&self, hash: &Hash) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(TX_INDEX)?.get(hash.as_slice())?.is_some())
    }

    /// A consistent read view of the latest committed block.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(Snapshot {
            headers: txn.open_table(HEADERS)?,
            block_hashes: txn.open_table(BLOCK_HASHES)?,
            block_txs: txn.open_table(BLOCK_TXS)?,
            txs: txn.open_table(TXS)?,
            receipts: txn.open_table(RECEIPTS)?,
            tx_index: txn.open_table(TX_INDEX)?,
            state: txn.open_table(STATE)?,
            events: txn.open_table(EVENTS)?,
            meta: txn.open_table(META)?,
        })
    }

    /// Space used by the store and by each table, from redb's statistics (for `scale-bench`'s
    /// bytes-on-disk breakdown). redb walks each table's B-tree to count its pages: seconds on
    /// a large store, so not for a request path.
    pub fn space(&self) -> Result<StoreSpace, StoreError> {
        use redb::ReadableTableMetadata as _;
        // The database-wide figures come from a write transaction, which is dropped uncommitted.
        let db_stats = self.db.begin_write()?.stats()?;
        let page_bytes = db_stats.page_size() as u64;
        let txn = self.db.begin_read()?;
        let space = |name: &'static str, stats: redb::TableStats, entries: u64| TableSpace {
            name,
            entries,
            stored_bytes: stats.stored_bytes(),
            metadata_bytes: stats.metadata_bytes(),
            fragmented_bytes: stats.fragmented_bytes(),
        };
        macro_rules! table {
            ($def:expr, $name:literal) => {{
                let t = txn.open_table($def)?;
                space($name, t.stats()?, t.len()?)
            }};
        }
        let tables = vec![
            table!(HEADERS, "headers"),
            table!(BLOCK_HASHES, "block_hashes"),
            table!(BLOCK_TXS, "block_txs"),
            table!(TXS, "txs"),
            table!(RECEIPTS, "receipts"),
            table!(TX_INDEX, "tx_index"),
            table!(STATE, "state"),
            table!(EVENTS, "events"),
            table!(META, "meta"),
        ];
        Ok(StoreSpace {
            page_bytes,
            allocated_bytes: db_stats.allocated_pages() * page_bytes,
            tables,
        })
    }

    /// Writes raw bytes into a table, bypassing every check: only for tests that tamper with a
    /// store to prove verification notices.
    #[doc(hidden)]
    pub fn tamper(&self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let def = match table {
                "txs" => TXS,
                "receipts" => RECEIPTS,
                "tx_index" => TX_INDEX,
                "state" => STATE,
                "events" => EVENTS,
                _ => return Err(StoreError::Corrupt(format!("no byte table `{table}`"))),
            };
            // Transactions and receipts are keyed by position; accept a transaction hash too.
            let at = if matches!(table, "txs" | "receipts") && key.len() == 32 {
                txn.open_table(TX_INDEX)?
                    .get(key)?
                    .map(|v| v.value().to_vec())
            } else {
                None
            };
            txn.open_table(def)?
                .insert(at.as_deref().unwrap_or(key), value)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Overwrites a stored header (tests only, like [`Store::tamper`]).
    #[doc(hidden)]
    pub fn tamper_header(&self, height: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(HEADERS)?.insert(height, bytes)?;
        txn.commit()?;
        Ok(())
    }
}

/// How many entries each table holds (verification checks that no table has rows of a block
/// beyond the tip, or rows the blocks do not account for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableLens {
    /// Headers (blocks, genesis included).
    pub headers: u64,
    /// Block-hash index entries.
    pub block_hashes: u64,
    /// Transaction lists (one per block, genesis included).
    pub block_txs: u64,
    /// Transaction records.
    pub txs: u64,
    /// Receipts.
    pub receipts: u64,
    /// Transaction-index entries.
    pub tx_index: u64,
    /// Event-index entries.
    pub events: u64,
    /// State entries.
    pub state: u64,
}

/// A read-only view of one committed state of the store.
pub struct Snapshot {
    headers: ReadOnlyTable<u64, &'static [u8]>,
    block_hashes: ReadOnlyTable<&'static [u8], u64>,
    block_txs: ReadOnlyTable<u64, &'static [u8]>,
    txs: ReadOnlyTable<&'static [u8], &'static [u8]>,
    receipts: ReadOnlyTable<&'static [u8], &'static [u8]>,
    tx_index: ReadOnlyTable<&'static [u8], &'static [u8]>,
    state: ReadOnlyTable<&'static [u8], &'static [u8]>,
    events: ReadOnlyTable<&'static [u8], &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Snapshot {
    /// A fact of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Height of the latest block, if any.
    pub fn tip_height(&self) -> Result<Option<u64>, StoreError> {
        match self.meta.get("tip")? {
            Some(v) => {
                let b: [u8; 8] = v
                    .value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("tip is not 8 bytes".into()))?;
                Ok(Some(u64::from_be_bytes(b)))
            }
            None => Ok(None),
        }
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        match self.headers.get(height)? {
            Some(v) => Ok(Some(Header::decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// The raw header bytes at `height` (verification hashes exactly these).
    pub fn header_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.headers.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The height of the block with this hash.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self.block_hashes.get(hash.as_slice())?.map(|v| v.value()))
    }

    /// The transaction hashes of block `height`, in order.
    pub fn block_tx_hashes(&self, height: u64) -> Result<Vec<Hash>, StoreError> {
        let Some(v) = self.block_txs.get(height)? else {
            return Ok(Vec::new());
        };
        let bytes = v.value();
        if bytes.len() % 32 != 0 {
            return Err(StoreError::Corrupt(format!(
                "transaction list of block {height}"
            )));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// Where a committed transaction is: (height, index).
    pub fn tx_position(&self, hash: &Hash) -> Result<Option<(u64, u32)>, StoreError> {
        let Some(v) = self.tx_index.get(hash.as_slice())? else {
            return Ok(None);
        };
        let b: [u8; 12] = v
            .value()
            .try_into()
            .map_err(|_| StoreError::Corrupt("transaction index".into()))?;
        let mut h = [0u8; 8];
        h.copy_from_slice(&b[..8]);
        let mut i = [0u8; 4];
        i.copy_from_slice(&b[8..]);
        Ok(Some((u64::from_be_bytes(h), u32::from_be_bytes(i))))
    }

    /// The transaction at a position.
    pub fn tx_at(&self, height: u64, index: u32) -> Result<Option<StoredTx>, StoreError> {
        match self.txs.get(position(height, index).as_slice())? {
            Some(v) => StoredTx::decode(height, index, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// A committed transaction.
    pub fn tx(&self, hash: &Hash) -> Result<Option<StoredTx>, StoreError> {
        match self.tx_position(hash)? {
            Some((h, i)) => self.tx_at(h, i),
            None => Ok(None),
        }
    }

    /// Whether a transaction with this hash is committed.
    pub fn has_tx(&self, hash: &Hash) -> Result<bool, StoreError> {
        Ok(self.tx_index.get(hash.as_slice())?.is_some())
    }

    /// The receipt bytes at a position.
    pub fn receipt_at(&self, height: u64, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .receipts
            .get(position(height, index).as_slice())?
            .map(|v| v.value().to_vec()))
    }

    /// A receipt's canonical bytes.
    pub fn receipt(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        match self.tx_position(hash)? {
            Some((h, i)) => self.receipt_at(h, i),
            None => Ok(None),
        }
    }

    /// A state value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Up to `limit` state entries in `[start, end)`.
    pub fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        let range = match end {
            Some(e) => self.state.range::<&[u8]>(start..e)?,
            None => self.state.range::<&[u8]>(start..)?,
        };
        for entry in range.take(limit) {
            let (k, v) = entry?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The committed nonce of an account (0 if unknown).
    pub fn nonce(&self, address: &Address) -> Result<u64, StoreError> {
        match self.get(&keys::nonce(address))? {
            Some(v) => {
                let b: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("nonce".into()))?;
                Ok(u64::from_be_bytes(b))
            }
            None => Ok(0),
        }
    }

    /// Event-index entries under `prefix`, after `start_after` (a full key), at most `limit`:
    /// `(key, tx_hash)`.
    pub fn events(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Hash)>, StoreError> {
        let start = match start_after {
            Some(k) => [k, &[0u8][..]].concat(),
            None => prefix.to_vec(),
        };
        let mut out = Vec::new();
        for entry in self.events.range::<&[u8]>(start.as_slice()..)? {
            let (k, v) = entry?;
            if !k.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            let hash: Hash = v
                .value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("event index value".into()))?;
            out.push((k.value().to_vec(), hash));
        }
        Ok(out)
    }

    /// The transaction hash stored under one full event-index key.
    pub fn event(&self, key: &[u8]) -> Result<Option<Hash>, StoreError> {
        match self.events.get(key)? {
            Some(v) => {
                Ok(Some(v.value().try_into().map_err(|_| {
                    StoreError::Corrupt("event index value".into())
                })?))
            }
            None => Ok(None),
        }
    }

    /// The number of entries in every table.
    pub fn table_lens(&self) -> Result<TableLens, StoreError> {
        Ok(TableLens {
            headers: self.headers.len()?,
            block_hashes: self.block_hashes.len()?,
            block_txs: self.block_txs.len()?,
            txs: self.txs.len()?,
            receipts: self.receipts.len()?,
            tx_index: self.tx_index.len()?,
            events: self.events.len()?,
            state: self.state.len()?,
        })
    }

    /// Every state entry in key order, in batches (for verification).
    pub fn state_iter(
        &self,
    ) -> Result<impl Iterator<Item = Result<StateEntry, StoreError>> + '_, StoreError> {
        Ok(self.state.iter()?.map(|e| {
            let (k, v) = e?;
            Ok((k.value().to_vec(), v.value().to_vec()))
        }))
    }
}
