//! The state a call sees. The runtime does no IO: the node implements [`StateView`] over its
//! store, and the runtime keeps the call's own writes in an overlay until the call ends.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{CodeHash, StateError};
pub use vellum_abi::codec::Entries;

/// The node's read-only view of the chain for one call: the called contract's storage (keys are
/// contract-relative) and the code store.
///
/// Implementations must be deterministic: the same committed state gives the same answers.
pub trait StateView: Send + Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Up to `limit` entries with `start <= key < end` (no upper bound when `end` is `None`),
    /// in ascending key order.
    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError>;
    /// The wasm bytes stored under `code_hash`. Asked only when the module is in neither the
    /// in-memory nor the on-disk cache.
    fn code(&self, code_hash: &CodeHash) -> Result<Option<Vec<u8>>, StateError>;
}

/// An in-memory [`StateView`]: the test harness's state and a reference model for the node.
#[derive(Debug, Default, Clone)]
pub struct MemoryState {
    /// Contract storage.
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Code by hash.
    pub codes: BTreeMap<CodeHash, Vec<u8>>,
}

impl MemoryState {
    /// Applies a successful call's writes.
    pub fn apply(&mut self, writes: &[crate::Write]) {
        for w in writes {
            match &w.value {
                Some(v) => {
                    self.storage.insert(w.key.clone(), v.clone());
                }
                None => {
                    self.storage.remove(&w.key);
                }
            }
        }
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.storage.get(key).cloned())
    }

    fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Entries, StateError> {
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .storage
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.codes.get(code_hash).cloned())
    }
}

/// The call's uncommitted writes over the backing view. `None` marks a removal.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    pub(crate) entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub(crate) bytes: usize,
}

impl Overlay {
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.entries.get(key)
    }

    pub(crate) fn scan(
        &self,
        backing: &dyn StateView,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StateError> {
        merge_scan(
            &self.entries,
            &mut |s, e, n| backing.scan(s, e, n),
            start,
            end,
            limit,
        )
    }
}

/// A range read of a backing store: `(start, end, limit)` to up to `limit` entries in key order.
pub type BackingScan<'a> =
    dyn FnMut(&[u8], Option<&[u8]>, usize) -> Result<Entries, StateError> + 'a;

/// Scans `[start, end)` of a backing store seen through an overlay of pending changes: overlay
/// entries shadow backing ones and `None` (a removal) hides them. `backing(start, end, limit)`
/// must return up to `limit` entries in `[start, end)` in key order; it is asked in batches until
/// `limit` live entries are found or the range is exhausted. Used by the runtime for a call's
/// own writes and by the node for a block's pending writes.
pub fn merge_scan(
    overlay: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    backing: &mut BackingScan<'_>,
    start: &[u8],
    end: Option<&[u8]>,
    limit: usize,
) -> Result<Entries, StateError> {
    let mut out: Entries = Vec::new();
    if limit == 0 || end.is_some_and(|e| e <= start) {
        return Ok(out);
    }
    let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
    let mut local = overlay
        .range::<[u8], _>((Bound::Included(start), upper))
        .peekable();
    let mut cursor = start.to_vec();
    let mut backing_done = false;
    let mut batch: std::vec::IntoIter<(Vec<u8>, Vec<u8>)> = Vec::new().into_iter();
    let mut pending: Option<(Vec<u8>, Vec<u8>)> = None;
    while out.len() < limit {
        if pending.is_none() {
            pending = batch.next();
            if pending.is_none() && !backing_done {
                // Removals in the overlay may hide backing entries, so ask for a little more
                // than what is still missing.
                let want = limit - out.len() + 1;
                let fetched = backing(&cursor, end, want)?;
                backing_done = fetched.len() < want;
                if let Some((last, _)) = fetched.last() {
                    cursor = next_key(last);
                }
                batch = fetched.into_iter();
                pending = batch.next();
            }
        }
        let take_local = match (&pending, local.peek()) {
            (None, None) => break,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some((bk, _)), Some((lk, _))) => lk.as_slice() <= bk.as_slice(),
        };
        if take_local {
            let Some((lk, lv)) = local.next() else { break };
            if pending.as_ref().is_some_and(|(bk, _)| bk == lk) {
                pending = None; // shadowed by the overlay
            }
            if let Some(v) = lv {
                out.push((lk.clone(), v.clone()));
            }
        } else if let Some(entry) = pending.take() {
            out.push(entry);
        }
    }
    Ok(out)
}

/// The smallest key strictly greater than `key`.
pub(crate) fn next_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backing(keys: &[(&str, &str)]) -> MemoryState {
        let mut s = MemoryState::default();
        for (k, v) in keys {
            s.storage
                .insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
        }
        s
    }

    fn keys(v: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
        v.iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn overlay_scan_merges_shadows_and_hides() {
        let b = backing(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let mut o = Overlay::default();
        o.entries.insert(b"b".to_vec(), None);
        o.entries.insert(b"c".to_vec(), Some(b"30".to_vec()));
        o.entries.insert(b"bb".to_vec(), Some(b"x".to_vec()));
        let all = o.scan(&b, b"", None, 100).unwrap();
        assert_eq!(keys(&all), ["a", "bb", "c", "d"]);
        assert_eq!(all[2].1, b"30");
        assert_eq!(
            keys(&o.scan(&b, b"a", Some(b"c"), 100).unwrap()),
            ["a", "bb"]
        );
        assert_eq!(keys(&o.scan(&b, b"", None, 2).unwrap()), ["a", "bb"]);
        assert!(o.scan(&b, b"c", Some(b"a"), 10).unwrap().is_empty());
    }

    #[test]
    fn overlay_scan_refills_when_removals_hide_a_batch() {
        let pairs: Vec<(String, String)> =
            (0..50).map(|i| (format!("k{i:02}"), "v".into())).collect();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let b = backing(&refs);
        let mut o = Overlay::default();
        for i in 0..40 {
            o.entries.insert(format!("k{i:02}").into_bytes(), None);
        }
        let got = o.scan(&b, b"", None, 5).unwrap();
        assert_eq!(keys(&got), ["k40", "k41", "k42", "k43", "k44"]);
    }
}
