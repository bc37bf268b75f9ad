//! The redb store (`vellum_node::store`) driven by an arbitrary sequence of operations and
//! compared, after every one, with a simple in-memory model (one `BTreeMap` per table).
//!
//! Operations: block commits (`Store::commit` with a header or none, transaction records valid
//! or not, receipts, state writes and removals, event-index entries; a block holding a
//! transaction hash the index already has is refused whole), reopening the database,
//! taking snapshots and keeping them across later commits (a snapshot must keep seeing the state
//! it was taken at), tampering with raw table bytes (the test hooks), the chain-id check, and
//! every read of `Snapshot` and `Store`: gets, ranged scans (including empty and reversed
//! ranges), event-index pages, nonces, headers, block transaction lists, transactions and
//! receipts by hash and by position, and a full state iteration.
//!
//! Guarded: every read answers exactly what the model says, a corrupt record is a
//! `StoreError::Corrupt` (never a panic, never a redb error), and nothing panics.
//!
//! Preconditions the node guarantees and the generator keeps: transaction hashes are unique
//! within one block, and so are event-index keys (they embed the block position).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use vellum_node::chain::Hash;
use vellum_node::chain::block::Header;
use vellum_node::chain::tx::Envelope;
use vellum_node::store::{CommitBatch, Snapshot, Store, StoreError, keys, position};

/// A model answer: `Err(())` stands for `StoreError::Corrupt`.
type Expect<T> = std::result::Result<T, ()>;

/// The tables, as plain maps.
#[derive(Debug, Default, Clone)]
pub struct Model {
    headers: BTreeMap<u64, Vec<u8>>,
    block_hashes: BTreeMap<Hash, u64>,
    block_txs: BTreeMap<u64, Vec<u8>>,
    txs: BTreeMap<Vec<u8>, Vec<u8>>,
    receipts: BTreeMap<Vec<u8>, Vec<u8>>,
    tx_index: BTreeMap<Vec<u8>, Vec<u8>>,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    events: BTreeMap<Vec<u8>, Vec<u8>>,
    tip: Option<Vec<u8>>,
    chain_id: Option<Vec<u8>>,
}

impl Model {
    /// Whether the store refuses `b` (`StoreError::DuplicateTx`, nothing written): it holds a
    /// transaction hash the index already has.
    fn refuses(&self, b: &CommitBatch) -> bool {
        b.txs
            .iter()
            .any(|(hash, _)| self.tx_index.contains_key(hash.as_slice()))
    }

    fn commit(&mut self, b: &CommitBatch) {
        if let Some(h) = &b.header {
            self.headers.insert(h.height, h.encode().to_vec());
            self.block_hashes.insert(h.hash(), h.height);
            self.block_txs
                .insert(h.height, b.txs.iter().flat_map(|(t, _)| *t).collect());
            self.tip = Some(h.height.to_be_bytes().to_vec());
        }
        let height = b.header.map_or(0, |h| h.height);
        for (i, (hash, record)) in b.txs.iter().enumerate() {
            let at = position(height, i as u32).to_vec();
            self.txs.insert(at.clone(), record.clone());
            self.tx_index.insert(hash.to_vec(), at);
        }
        for (i, (_, bytes)) in b.receipts.iter().enumerate() {
            self.receipts
                .insert(position(height, i as u32).to_vec(), bytes.clone());
        }
        for (k, v) in b.writes.iter() {
            match v {
                Some(v) => self.state.insert(k.clone(), v.clone()),
                None => self.state.remove(k),
            };
        }
        for (k, t) in &b.events {
            self.events.insert(k.clone(), t.to_vec());
        }
    }

    fn tamper(&mut self, table: Table, key: &[u8], value: &[u8]) {
        let key = match table {
            Table::Txs | Table::Receipts if key.len() == 32 => {
                self.tx_index.get(key).cloned().unwrap_or(key.to_vec())
            }
            _ => key.to_vec(),
        };
        let map = match table {
            Table::Txs => &mut self.txs,
            Table::Receipts => &mut self.receipts,
            Table::TxIndex => &mut self.tx_index,
            Table::State => &mut self.state,
            Table::Events => &mut self.events,
        };
        map.insert(key, value.to_vec());
    }

    fn tip_height(&self) -> Expect<Option<u64>> {
        match &self.tip {
            None => Ok(None),
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| ()),
        }
    }

    fn header(&self, h: u64) -> Expect<Option<Header>> {
        match self.headers.get(&h) {
            None => Ok(None),
            Some(b) => Header::decode(b).map(Some).map_err(|_| ()),
        }
    }

    fn block_tx_hashes(&self, h: u64) -> Expect<Vec<Hash>> {
        match self.block_txs.get(&h) {
            None => Ok(Vec::new()),
            Some(b) if b.len() % 32 != 0 => Err(()),
            Some(b) => Ok(b
                .chunks_exact(32)
                .map(|c| c.try_into().expect("32 bytes"))
                .collect()),
        }
    }

    fn tx_position(&self, hash: &Hash) -> Expect<Option<(u64, u32)>> {
        match self.tx_index.get(hash.as_slice()) {
            None => Ok(None),
            Some(v) if v.len() != 12 => Err(()),
            Some(v) => Ok(Some((
                u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
                u32::from_be_bytes(v[8..].try_into().expect("4 bytes")),
            ))),
        }
    }

    fn tx_at(&self, h: u64, i: u32) -> Expect<Option<(u64, u32, Envelope)>> {
        let Some(b) = self.txs.get(position(h, i).as_slice()) else {
            return Ok(None);
        };
        if b.len() < 97 {
            return Err(());
        }
        let payload = String::from_utf8(b[97..].to_vec()).map_err(|_| ())?;
        Ok(Some((
            h,
            i,
            Envelope {
                payload,
                public_key: hex(&b[..33]),
                signature: hex(&b[33..97]),
            },
        )))
    }

    fn tx(&self, hash: &Hash) -> Expect<Option<(u64, u32, Envelope)>> {
        match self.tx_position(hash)? {
            Some((h, i)) => self.tx_at(h, i),
            None => Ok(None),
        }
    }

    fn receipt(&self, hash: &Hash) -> Expect<Option<Vec<u8>>> {
        match self.tx_position(hash)? {
            Some((h, i)) => Ok(self.receipts.get(position(h, i).as_slice()).cloned()),
            None => Ok(None),
        }
    }

    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        if end.is_some_and(|e| e <= start) {
            return Vec::new();
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.state
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn nonce(&self, a: &[u8; 20]) -> Expect<u64> {
        match self.state.get(&keys::nonce(a)) {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| ()),
        }
    }

    fn events(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Expect<Vec<(Vec<u8>, Hash)>> {
        let start = match start_after {
            Some(k) => [k, &[0u8][..]].concat(),
            None => prefix.to_vec(),
        };
        let mut out = Vec::new();
        for (k, v) in self.events.range(start..) {
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.clone(), v.as_slice().try_into().map_err(|_| ())?));
        }
        Ok(out)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The byte tables `Store::tamper` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Transaction records.
    Txs,
    /// Receipts.
    Receipts,
    /// Hash to position.
    TxIndex,
    /// State.
    State,
    /// Event index.
    Events,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Txs => "txs",
            Self::Receipts => "receipts",
            Self::TxIndex => "tx_index",
            Self::State => "state",
            Self::Events => "events",
        }
    }
}

/// A read compared with the model.
#[derive(Debug, Clone)]
pub enum Query {
    /// `Snapshot::tip_height`.
    Tip,
    /// `Snapshot::header` and `header_bytes`.
    Header(u64),
    /// `Snapshot::height_of`.
    HeightOf(Hash),
    /// `Snapshot::block_tx_hashes`.
    BlockTxs(u64),
    /// `tx_position`, `tx`, `has_tx`, `receipt` (snapshot) and `has_tx` (store).
    Tx(Hash),
    /// `tx_at` and `receipt_at`.
    At(u64, u32),
    /// `Snapshot::get`.
    Get(Vec<u8>),
    /// `Snapshot::scan`.
    Scan(Vec<u8>, Option<Vec<u8>>, usize),
    /// `Snapshot::nonce` and `Store::committed_nonce`.
    Nonce([u8; 20]),
    /// `Snapshot::events`.
    Events(Vec<u8>, Option<Vec<u8>>, usize),
    /// `Snapshot::state_iter`, the whole state.
    All,
}

/// One operation.
#[derive(Debug)]
pub enum Op {
    /// `Store::commit`.
    Commit(Box<CommitBatch>),
    /// Close and open the database again.
    Reopen,
    /// Take a snapshot and keep it (at most two are kept; the oldest goes).
    KeepSnapshot,
    /// `Store::tamper`.
    Tamper(Table, Vec<u8>, Vec<u8>),
    /// `Store::tamper_header`.
    TamperHeader(u64, Vec<u8>),
    /// `Store::check_chain_id`.
    ChainId(&'static str),
    /// A read on the newest state (`false`) or on a kept snapshot (`true`).
    Read(Query, bool),
}

const ALPHABET: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, b'a', b'b'];

fn short_key(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=4)?;
    (0..len)
        .map(|_| Ok(ALPHABET[u.int_in_range(0..=7)?]))
        .collect()
}

fn address(u: &mut Unstructured<'_>) -> Result<[u8; 20]> {
    Ok([u.int_in_range(0..=3)?; 20])
}

fn hash(u: &mut Unstructured<'_>) -> Result<Hash> {
    if u.ratio(1, 16)? {
        u.arbitrary()
    } else {
        Ok([u.int_in_range(0..=7)?; 32])
    }
}

fn height(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0..=15)? {
        0 => u64::MAX,
        1 => u.arbitrary()?,
        h => h - 2,
    })
}

/// A state key: a nonce, a contract-storage key or a short raw key.
fn state_key(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=3)? {
        0 => keys::nonce(&address(u)?),
        1 => [keys::storage_prefix(&address(u)?), short_key(u)?].concat(),
        _ => short_key(u)?,
    })
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len.min(u.len()))?.to_vec())
}

fn event_prefix(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let k = ["document_id", "actor", ""][u.int_in_range(0..=2)?];
    let v = ["d1", "d2", ""][u.int_in_range(0..=2)?];
    Ok(keys::event_prefix(&address(u)?, k, v))
}

fn event_key(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    if u.ratio(1, 8)? {
        return short_key(u);
    }
    let prefix = event_prefix(u)?;
    Ok(keys::event(
        &prefix,
        height(u)?,
        u.int_in_range(0..=2)?,
        u.int_in_range(0..=2)?,
    ))
}

fn record(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=5)? {
        0 => bytes(u, 100)?,
        1 => [u.bytes(97)?, &[0xff, 0xfe][..]].concat(),
        _ => {
            let head = u.bytes(97)?.to_vec();
            let payload = short_string(u)?;
            [head, payload.into_bytes()].concat()
        }
    })
}

fn short_string(u: &mut Unstructured<'_>) -> Result<String> {
    let b = bytes(u, 40)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

fn batch(u: &mut Unstructured<'_>) -> Result<CommitBatch> {
    let header = if u.ratio(4, 5)? {
        Some(Header {
            height: height(u)?,
            prev_hash: hash(u)?,
            timestamp_ms: u.arbitrary()?,
            tx_root: hash(u)?,
            receipt_root: hash(u)?,
            state_root: hash(u)?,
            tx_count: u.arbitrary()?,
        })
    } else {
        None
    };
    let mut txs: Vec<(Hash, Vec<u8>)> = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let h = hash(u)?;
        if txs.iter().all(|(o, _)| *o != h) {
            txs.push((h, record(u)?));
        }
    }
    let receipts = (0..u.int_in_range(0..=4)?)
        .map(|_| Ok((hash(u)?, bytes(u, 40)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut writes = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=8)? {
        let k = state_key(u)?;
        let v = if u.ratio(1, 4)? {
            None
        } else if k.first() == Some(&keys::NONCE) && u.ratio(3, 4)? {
            Some(u.arbitrary::<u64>()?.to_be_bytes().to_vec())
        } else {
            Some(bytes(u, 24)?)
        };
        writes.insert(k, v);
    }
    let mut events: Vec<(Vec<u8>, Hash)> = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let k = event_key(u)?;
        if events.iter().all(|(o, _)| *o != k) {
            events.push((k, hash(u)?));
        }
    }
    Ok(CommitBatch {
        header,
        txs,
        receipts,
        writes: Arc::new(writes),
        events,
        meta: Vec::new(),
    })
}

fn limit(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(if u.ratio(1, 8)? {
        usize::MAX
    } else {
        u.int_in_range(0..=10)?
    })
}

fn query(u: &mut Unstructured<'_>) -> Result<Query> {
    Ok(match u.int_in_range(0..=10)? {
        0 => Query::Tip,
        1 => Query::Header(height(u)?),
        2 => Query::HeightOf(hash(u)?),
        3 => Query::BlockTxs(height(u)?),
        4 => Query::Tx(hash(u)?),
        5 => Query::At(height(u)?, u.int_in_range(0..=4)?),
        6 => Query::Get(state_key(u)?),
        7 => {
            let start = state_key(u)?;
            let end = if u.ratio(1, 3)? {
                None
            } else {
                Some(state_key(u)?)
            };
            Query::Scan(start, end, limit(u)?)
        }
        8 => Query::Nonce(address(u)?),
        9 => {
            let prefix = if u.ratio(1, 8)? {
                short_key(u)?
            } else {
                event_prefix(u)?
            };
            let after = if u.ratio(1, 2)? {
                Some(event_key(u)?)
            } else {
                None
            };
            Query::Events(prefix, after, limit(u)?)
        }
        _ => Query::All,
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match u.int_in_range(0..=19)? {
        0..=4 => Op::Commit(Box::new(batch(u)?)),
        5 => Op::Reopen,
        6 => Op::KeepSnapshot,
        7 => {
            let table = [
                Table::Txs,
                Table::Receipts,
                Table::TxIndex,
                Table::State,
                Table::Events,
            ][u.int_in_range(0..=4)?];
            let key = match u.int_in_range(0..=2)? {
                0 => hash(u)?.to_vec(),
                1 => position(height(u)?, u.int_in_range(0..=3)?).to_vec(),
                _ => state_key(u)?,
            };
            Op::Tamper(table, key, bytes(u, 40)?)
        }
        8 => {
            let h = height(u)?;
            let b = if u.ratio(1, 2)? {
                bytes(u, 160)?
            } else {
                u.bytes(156)?.to_vec()
            };
            Op::TamperHeader(h, b)
        }
        9 => Op::ChainId(["vellum-a", "vellum-b"][u.int_in_range(0..=1)?]),
        _ => Op::Read(query(u)?, u.ratio(1, 3)?),
    })
}

/// Decodes the operation sequence (at most 64 operations).
pub fn ops(u: &mut Unstructured<'_>) -> Result<Vec<Op>> {
    let mut out = Vec::new();
    while !u.is_empty() && out.len() < 64 {
        // An operation that runs out of input is dropped; the sequence so far still runs.
        match op(u) {
            Ok(o) => out.push(o),
            Err(_) => break,
        }
    }
    Ok(out)
}

/// `Ok(x)` for `Ok(x)`, `Err(())` for a `Corrupt` error; any other error is a bug.
fn typed<T>(r: std::result::Result<T, StoreError>, what: &str) -> Expect<T> {
    match r {
        Ok(v) => Ok(v),
        Err(StoreError::Corrupt(_)) => Err(()),
        Err(e) => panic!("{what}: an error that is not corruption: {e}"),
    }
}

fn check_read(store: &Store, snap: &Snapshot, m: &Model, q: &Query, newest: bool) {
    match q {
        Query::Tip => assert_eq!(typed(snap.tip_height(), "tip"), m.tip_height()),
        Query::Header(h) => {
            assert_eq!(typed(snap.header(*h), "header"), m.header(*h), "header {h}");
            assert_eq!(
                typed(snap.header_bytes(*h), "header_bytes"),
                Ok(m.headers.get(h).cloned())
            );
        }
        Query::HeightOf(hash) => assert_eq!(
            typed(snap.height_of(hash), "height_of"),
            Ok(m.block_hashes.get(hash).copied())
        ),
        Query::BlockTxs(h) => assert_eq!(
            typed(snap.block_tx_hashes(*h), "block_tx_hashes"),
            m.block_tx_hashes(*h)
        ),
        Query::Tx(hash) => {
            assert_eq!(
                typed(snap.tx_position(hash), "tx_position"),
                m.tx_position(hash)
            );
            let got =
                typed(snap.tx(hash), "tx").map(|o| o.map(|t| (t.height, t.index, t.envelope)));
            assert_eq!(got, m.tx(hash), "tx");
            let has = m.tx_index.contains_key(hash.as_slice());
            assert_eq!(typed(snap.has_tx(hash), "has_tx"), Ok(has));
            assert_eq!(typed(snap.receipt(hash), "receipt"), m.receipt(hash));
            if newest {
                assert_eq!(typed(store.has_tx(hash), "store has_tx"), Ok(has));
            }
        }
        Query::At(h, i) => {
            let got = typed(snap.tx_at(*h, *i), "tx_at")
                .map(|o| o.map(|t| (t.height, t.index, t.envelope)));
            assert_eq!(got, m.tx_at(*h, *i), "tx_at {h} {i}");
            assert_eq!(
                typed(snap.receipt_at(*h, *i), "receipt_at"),
                Ok(m.receipts.get(position(*h, *i).as_slice()).cloned())
            );
        }
        Query::Get(k) => assert_eq!(typed(snap.get(k), "get"), Ok(m.state.get(k).cloned())),
        Query::Scan(s, e, n) => assert_eq!(
            typed(snap.scan(s, e.as_deref(), *n), "scan"),
            Ok(m.scan(s, e.as_deref(), *n)),
            "scan {s:?}..{e:?} limit {n}"
        ),
        Query::Nonce(a) => {
            assert_eq!(typed(snap.nonce(a), "nonce"), m.nonce(a));
            if newest {
                assert_eq!(
                    typed(store.committed_nonce(a), "committed_nonce"),
                    m.nonce(a)
                );
            }
        }
        Query::Events(p, after, n) => assert_eq!(
            typed(snap.events(p, after.as_deref(), *n), "events"),
            m.events(p, after.as_deref(), *n),
            "events {p:?} after {after:?} limit {n}"
        ),
        Query::All => {
            let all: Vec<(Vec<u8>, Vec<u8>)> = snap
                .state_iter()
                .unwrap_or_else(|e| panic!("state_iter: {e}"))
                .map(|e| e.unwrap_or_else(|e| panic!("state_iter: {e}")))
                .collect();
            let model: Vec<(Vec<u8>, Vec<u8>)> = m
                .state
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(all, model, "whole state");
        }
    }
}

/// Where the target puts its databases: `VELLUM_FUZZ_TMP`, else `/dev/shm` when it exists
/// (fsync costs nothing there, so a fuzzer runs far more sequences), else the system's.
pub fn scratch_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VELLUM_FUZZ_TMP") {
        return d.into();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// Runs a sequence against a fresh database in `dir` and the model.
pub fn check(ops: &[Op], dir: &Path) {
    let path = dir.join("store.redb");
    let open = || Store::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    let mut store = open();
    let mut model = Model::default();
    let mut kept: Vec<(Snapshot, Model)> = Vec::new();
    let mut pick = 0usize;
    for op in ops {
        match op {
            Op::Commit(b) => {
                let got = store.commit(b);
                if model.refuses(b) {
                    assert!(
                        matches!(got, Err(StoreError::DuplicateTx(_))),
                        "commit of a block holding an indexed transaction: {got:?}"
                    );
                } else {
                    got.unwrap_or_else(|e| panic!("commit: {e}"));
                    model.commit(b);
                }
            }
            Op::Reopen => {
                kept.clear();
                drop(store);
                store = open();
            }
            Op::KeepSnapshot => {
                if kept.len() == 2 {
                    kept.remove(0);
                }
                let s = store.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
                kept.push((s, model.clone()));
            }
            Op::Tamper(t, k, v) => {
                store
                    .tamper(t.name(), k, v)
                    .unwrap_or_else(|e| panic!("tamper: {e}"));
                model.tamper(*t, k, v);
            }
            Op::TamperHeader(h, b) => {
                store
                    .tamper_header(*h, b)
                    .unwrap_or_else(|e| panic!("tamper_header: {e}"));
                model.headers.insert(*h, b.clone());
            }
            Op::ChainId(id) => {
                let expected = match &model.chain_id {
                    Some(c) if c == id.as_bytes() => Ok(()),
                    Some(_) => Err(()),
                    None => {
                        model.chain_id = Some(id.as_bytes().to_vec());
                        Ok(())
                    }
                };
                assert_eq!(typed(store.check_chain_id(id), "check_chain_id"), expected);
            }
            Op::Read(q, old) => {
                if *old && !kept.is_empty() {
                    pick = (pick + 1) % kept.len();
                    let (snap, m) = &kept[pick];
                    check_read(&store, snap, m, q, false);
                } else {
                    let snap = store.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
                    check_read(&store, &snap, &model, q, true);
                }
            }
        }
    }
    // Whatever happened, the whole state and every kept snapshot still agree at the end.
    let snap = store.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
    check_read(&store, &snap, &model, &Query::All, true);
    check_read(&store, &snap, &model, &Query::Tip, true);
    for (s, m) in &kept {
        check_read(&store, s, m, &Query::All, false);
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(ops) = ops(&mut u) else { return };
    let dir = tempfile::Builder::new()
        .prefix("vellum-store-fuzz")
        .tempdir_in(scratch_dir())
        .unwrap_or_else(|e| panic!("temporary directory: {e}"));
    check(&ops, dir.path());
}
