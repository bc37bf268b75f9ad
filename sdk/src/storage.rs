//! Typed storage: single [`Item`]s and [`Map`]s with ordered, paged iteration.
//!
//! Values are encoded with postcard: compact, fast in wasm, and deterministic for the types
//! contracts store (structs, vectors, strings, integers; never hash maps). Types that print
//! differently for humans (such as [`Address`]) use their compact binary form there. Keys are
//! laid out so that iteration order is meaningful:
//!
//! - an item lives at its name;
//! - a map entry lives at `len(namespace) as u16 BE || namespace || key`;
//! - integer keys are big-endian, so they sort numerically;
//! - in a tuple key `(a, b)`, `a` is length-prefixed (u16 BE), so that all entries sharing `a`
//!   form one contiguous range that [`Map::prefix`] iterates.

use alloc::string::String;
use alloc::vec::Vec;
use core::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Address, StdError, ops};

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StdError> {
    postcard::to_allocvec(value).map_err(|e| StdError::Serialization(alloc::format!("{e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StdError> {
    postcard::from_bytes(bytes).map_err(|e| StdError::Serialization(alloc::format!("{e}")))
}

/// One value stored under a fixed name.
#[derive(Debug)]
pub struct Item<T> {
    key: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Item<T> {
    /// An item stored under `key`.
    pub const fn new(key: &'static str) -> Self {
        Self {
            key,
            _value: PhantomData,
        }
    }

    /// The value, or `None` if it was never saved.
    pub fn may_load(&self) -> Result<Option<T>, StdError> {
        ops::storage_read(self.key.as_bytes())
            .map(|b| decode(&b))
            .transpose()
    }

    /// The value, or [`StdError::NotFound`].
    pub fn load(&self) -> Result<T, StdError> {
        self.may_load()?
            .ok_or_else(|| StdError::NotFound(self.key.into()))
    }

    /// Saves the value.
    pub fn save(&self, value: &T) -> Result<(), StdError> {
        ops::storage_write(self.key.as_bytes(), &encode(value)?);
        Ok(())
    }

    /// Removes the value.
    pub fn remove(&self) {
        ops::storage_remove(self.key.as_bytes());
    }
}

/// A type usable as a map key: an order-preserving byte encoding and its inverse.
pub trait Key: Sized {
    /// Appends the key's encoding.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes a whole encoding (`None` if malformed).
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Key for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl Key for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl Key for Address {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Address)
    }
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(<$t>::from_be_bytes)
            }
        }
    )*};
}
int_key!(u8, u16, u32, u64, u128);

fn length_prefixed(bytes: &[u8], out: &mut Vec<u8>) {
    // Keys are bounded far below 64 KiB by the ABI, so the length fits in a u16; a longer one
    // is cut to a length the host will refuse anyway (the key limit is 1 KiB).
    out.extend_from_slice(&(bytes.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl<A: Key, B: Key> Key for (A, B) {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut a = Vec::new();
        self.0.encode(&mut a);
        length_prefixed(&a, out);
        self.1.encode(out);
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (len, rest) = bytes.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        let (a, b) = rest.split_at(len);
        Some((A::decode(a)?, B::decode(b)?))
    }
}

/// The smallest byte string greater than every string starting with `prefix`; empty when there
/// is none (all bytes 0xff), which the host reads as "no upper bound".
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    end
}

fn after(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

/// Entries of one key range, decoded; `start_after` pages.
fn range<K: Key, V: DeserializeOwned>(
    base: &[u8],
    start_after: Option<&K>,
    limit: u32,
) -> Result<Vec<(K, V)>, StdError> {
    let start = match start_after {
        Some(k) => {
            let mut full = base.to_vec();
            k.encode(&mut full);
            after(&full)
        }
        None => base.to_vec(),
    };
    let end = prefix_end(base);
    ops::storage_scan(&start, &end, limit)
        .into_iter()
        .map(|(raw, value)| {
            let key = raw
                .get(base.len()..)
                .and_then(K::decode)
                .ok_or_else(|| StdError::Serialization("undecodable map key".into()))?;
            Ok((key, decode(&value)?))
        })
        .collect()
}

/// A map from `K` to `V` under a namespace.
#[derive(Debug)]
pub struct Map<K, V> {
    namespace: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Serialize + DeserializeOwned> Map<K, V> {
    /// A map stored under `namespace` (which must differ from every other item or map name).
    pub const fn new(namespace: &'static str) -> Self {
        Self {
            namespace,
            _types: PhantomData,
        }
    }

    fn base(&self) -> Vec<u8> {
        let mut base = Vec::with_capacity(self.namespace.len() + 2);
        length_prefixed(self.namespace.as_bytes(), &mut base);
        base
    }

    fn full_key(&self, key: &K) -> Vec<u8> {
        let mut k = self.base();
        key.encode(&mut k);
        k
    }

    /// The value under `key`, if any.
    pub fn may_load(&self, key: &K) -> Result<Option<V>, StdError> {
        ops::storage_read(&self.full_key(key))
            .map(|b| decode(&b))
            .transpose()
    }

    /// The value under `key`, or [`StdError::NotFound`].
    pub fn load(&self, key: &K) -> Result<V, StdError> {
        self.may_load(key)?
            .ok_or_else(|| StdError::NotFound(alloc::format!("{} entry", self.namespace)))
    }

    /// Whether `key` has a value.
    pub fn has(&self, key: &K) -> bool {
        ops::storage_read(&self.full_key(key)).is_some()
    }

    /// Saves `value` under `key`.
    pub fn save(&self, key: &K, value: &V) -> Result<(), StdError> {
        ops::storage_write(&self.full_key(key), &encode(value)?);
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&self, key: &K) {
        ops::storage_remove(&self.full_key(key));
    }

    /// Up to `limit` entries in key order, starting after `start_after`.
    pub fn range(&self, start_after: Option<&K>, limit: u32) -> Result<Vec<(K, V)>, StdError> {
        range(&self.base(), start_after, limit)
    }
}

impl<A: Key, B: Key, V: Serialize + DeserializeOwned> Map<(A, B), V> {
    /// The entries whose key starts with `a`, iterated by `b`.
    pub fn prefix(&self, a: &A) -> Prefix<B, V> {
        let mut base = self.base();
        let mut encoded = Vec::new();
        a.encode(&mut encoded);
        length_prefixed(&encoded, &mut base);
        Prefix {
            base,
            _types: PhantomData,
        }
    }
}

/// The part of a tuple-keyed [`Map`] that shares a first key component.
#[derive(Debug)]
pub struct Prefix<B, V> {
    base: Vec<u8>,
    _types: PhantomData<fn() -> (B, V)>,
}

impl<B: Key, V: DeserializeOwned> Prefix<B, V> {
    /// Up to `limit` entries ordered by the second key component, starting after `start_after`.
    pub fn range(&self, start_after: Option<&B>, limit: u32) -> Result<Vec<(B, V)>, StdError> {
        range(&self.base, start_after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_keys_round_trip_and_group_by_prefix() {
        let mut k = Vec::new();
        (String::from("doc"), 7u64).encode(&mut k);
        assert_eq!(<(String, u64)>::decode(&k), Some(("doc".into(), 7)));
        // "doc" entries cannot interleave with "doc2" entries: the length prefix differs.
        let mut k2 = Vec::new();
        (String::from("doc2"), 0u64).encode(&mut k2);
        assert!(!k2.starts_with(&k[..5]));
    }

    #[test]
    fn integer_keys_sort_numerically() {
        let enc = |n: u64| {
            let mut v = Vec::new();
            n.encode(&mut v);
            v
        };
        assert!(enc(2) < enc(10));
        assert!(enc(255) < enc(256));
    }

    #[test]
    fn prefix_end_is_the_tight_upper_bound() {
        assert_eq!(prefix_end(b"ab"), b"ac");
        assert_eq!(prefix_end(&[1, 0xff]), [2]);
        assert!(prefix_end(&[0xff, 0xff]).is_empty());
    }
}
