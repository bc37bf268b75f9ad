//! The redb store: every block is committed in one write transaction with immediate durability
//! and two-phase commit (the data is untrusted, and redb's default checksum is not
//! cryptographic), so after a crash the store holds every acknowledged block and never part of
//! one. Layouts are specified in `docs/chain-format.md`.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};

use crate::chain::block::{Header, HeaderDecodeError};
use crate::chain::{Address, Hash};
use vellum_runtime::Entries;

/// Headers by height: the 156-byte canonical encoding.
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// Height by block hash.
const BLOCK_HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
/// The transaction hashes of a block, concatenated in order.
const BLOCK_TXS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_txs");
/// Transactions by hash: height (u64 BE), index (u32 BE), then the envelope's JSON.
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// Receipts by transaction hash: their canonical JSON bytes.
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
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
}

/// One state entry: key and value.
pub type StateEntry = (Vec<u8>, Vec<u8>);

/// The database.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

/// A stored transaction.
#[derive(Debug, Clone)]
pub struct StoredTx {
    /// Block that committed it.
    pub height: u64,
    /// Position in that block.
    pub index: u32,
    /// The envelope's JSON, as received.
    pub envelope_json: Vec<u8>,
}

impl StoredTx {
    /// Encodes the record: height, index, envelope JSON.
    pub fn encode(height: u64, index: u32, envelope_json: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(12 + envelope_json.len());
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&index.to_be_bytes());
        v.extend_from_slice(envelope_json);
        v
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() < 12 {
            return Err(StoreError::Corrupt("transaction record too short".into()));
        }
        let mut h = [0u8; 8];
        h.copy_from_slice(&bytes[..8]);
        let mut i = [0u8; 4];
        i.copy_from_slice(&bytes[8..12]);
        Ok(Self {
            height: u64::from_be_bytes(h),
            index: u32::from_be_bytes(i),
            envelope_json: bytes[12..].to_vec(),
        })
    }
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder().create(path)?;
        let store = Self { db };
        // Create every table so that readers never meet a missing one.
        let txn = store.db.begin_write()?;
        {
            txn.open_table(HEADERS)?;
            txn.open_table(BLOCK_HASHES)?;
            txn.open_table(BLOCK_TXS)?;
            txn.open_table(TXS)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(STATE)?;
            txn.open_table(EVENTS)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        Ok(store)
    }

    /// Commits one block: everything or nothing, durable when this returns.
    pub fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_two_phase_commit(true);
        {
            if let Some(header) = &batch.header {
                let hash = header.hash();
                txn.open_table(HEADERS)?
                    .insert(header.height, header.encode().as_slice())?;
                txn.open_table(BLOCK_HASHES)?
                    .insert(hash.as_slice(), header.height)?;
                let tx_hashes: Vec<u8> = batch.txs.iter().flat_map(|(h, _)| *h).collect();
                txn.open_table(BLOCK_TXS)?
                    .insert(header.height, tx_hashes.as_slice())?;
                txn.open_table(META)?
                    .insert("tip", header.height.to_be_bytes().as_slice())?;
            }
            let mut txs = txn.open_table(TXS)?;
            for (hash, record) in &batch.txs {
                txs.insert(hash.as_slice(), record.as_slice())?;
            }
            let mut receipts = txn.open_table(RECEIPTS)?;
            for (hash, bytes) in &batch.receipts {
                receipts.insert(hash.as_slice(), bytes.as_slice())?;
            }
            let mut state = txn.open_table(STATE)?;
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
            let mut events = txn.open_table(EVENTS)?;
            for (key, tx) in &batch.events {
                events.insert(key.as_slice(), tx.as_slice())?;
            }
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

    /// Whether a transaction is committed, reading only the transaction table.
    pub fn has_tx(&self, hash: &Hash) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(TXS)?.get(hash.as_slice())?.is_some())
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
            state: txn.open_table(STATE)?,
            events: txn.open_table(EVENTS)?,
            meta: txn.open_table(META)?,
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
                "state" => STATE,
                "events" => EVENTS,
                _ => return Err(StoreError::Corrupt(format!("no byte table `{table}`"))),
            };
            txn.open_table(def)?.insert(key, value)?;
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

/// A read-only view of one committed state of the store.
pub struct Snapshot {
    headers: ReadOnlyTable<u64, &'static [u8]>,
    block_hashes: ReadOnlyTable<&'static [u8], u64>,
    block_txs: ReadOnlyTable<u64, &'static [u8]>,
    txs: ReadOnlyTable<&'static [u8], &'static [u8]>,
    receipts: ReadOnlyTable<&'static [u8], &'static [u8]>,
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

    /// A committed transaction.
    pub fn tx(&self, hash: &Hash) -> Result<Option<StoredTx>, StoreError> {
        self.txs
            .get(hash.as_slice())?
            .map(|v| StoredTx::decode(v.value()))
            .transpose()
    }

    /// Whether a transaction with this hash is committed.
    pub fn has_tx(&self, hash: &Hash) -> Result<bool, StoreError> {
        Ok(self.txs.get(hash.as_slice())?.is_some())
    }

    /// A receipt's canonical bytes.
    pub fn receipt(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .receipts
            .get(hash.as_slice())?
            .map(|v| v.value().to_vec()))
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
