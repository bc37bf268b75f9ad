//! Block headers and receipts, and their canonical encodings (`docs/chain-format.md`).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{Hash, sha256};

/// Magic bytes opening every encoded header (format version 1).
pub const HEADER_MAGIC: &[u8; 8] = b"VLMHDR01";
/// Length of an encoded header.
pub const HEADER_BYTES: usize = 8 + 8 + 32 + 8 + 32 + 32 + 32 + 4;

/// A block header. Its hash is SHA-256 of [`Header::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 0 for genesis.
    pub height: u64,
    /// Hash of the previous block's header (zeros for genesis).
    pub prev_hash: Hash,
    /// Milliseconds since the Unix epoch; never lower than the previous block's.
    pub timestamp_ms: u64,
    /// Merkle root of the transaction hashes, in block order.
    pub tx_root: Hash,
    /// Merkle root of the receipt hashes, in block order.
    pub receipt_root: Hash,
    /// Commitment to all state after this block (see `docs/chain-format.md`).
    pub state_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
}

/// Why stored header bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header encoding: {0}")]
pub struct HeaderDecodeError(pub &'static str);

impl Header {
    /// The canonical encoding: magic, then every field in declaration order, integers
    /// big-endian.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(HEADER_MAGIC);
        put(&self.height.to_be_bytes());
        put(&self.prev_hash);
        put(&self.timestamp_ms.to_be_bytes());
        put(&self.tx_root);
        put(&self.receipt_root);
        put(&self.state_root);
        put(&self.tx_count.to_be_bytes());
        out
    }

    /// Decodes [`Header::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderDecodeError> {
        if bytes.len() != HEADER_BYTES {
            return Err(HeaderDecodeError("wrong length"));
        }
        if &bytes[..8] != HEADER_MAGIC {
            return Err(HeaderDecodeError("wrong magic"));
        }
        let h32 = |at: usize| -> Hash {
            let mut h = [0u8; 32];
            h.copy_from_slice(&bytes[at..at + 32]);
            h
        };
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let mut count = [0u8; 4];
        count.copy_from_slice(&bytes[HEADER_BYTES - 4..]);
        Ok(Self {
            height: u64_at(8),
            prev_hash: h32(16),
            timestamp_ms: u64_at(48),
            tx_root: h32(56),
            receipt_root: h32(88),
            state_root: h32(120),
            tx_count: u32::from_be_bytes(count),
        })
    }

    /// SHA-256 of the canonical encoding.
    pub fn hash(&self) -> Hash {
        sha256(&[&self.encode()])
    }
}

/// Event attributes in emission order, serialised as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes(pub Vec<(String, String)>);

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attributes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(Attributes(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An event as receipts show it (SPEC.md section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEvent {
    /// Emitting contract, hex.
    pub contract: String,
    /// Event type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Attributes.
    pub attributes: Attributes,
}

/// What executing a transaction did. Its canonical bytes are its JSON serialisation (fields in
/// this order), and its hash is SHA-256 of those bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    /// Hex hash of the transaction.
    pub tx_hash: String,
    /// Block that committed it.
    pub block_height: u64,
    /// Position in the block.
    pub index: u32,
    /// Hex address of the signer.
    pub signer: String,
    /// The nonce it consumed.
    pub nonce: u64,
    /// Whether the action took effect.
    pub success: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Events, in emission order (none on failure).
    pub events: Vec<ReceiptEvent>,
    /// deploy: `{"code_hash"}`; instantiate: `{"contract"}`; execute: the contract's answer;
    /// `null` on failure.
    pub output: Box<RawValue>,
}

impl Receipt {
    /// Canonical bytes: the JSON serialisation.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain strings, integers and validated raw JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_every_field_changes_the_hash() {
        let h = Header {
            height: 7,
            prev_hash: [1; 32],
            timestamp_ms: 1_700_000_000_123,
            tx_root: [2; 32],
            receipt_root: [3; 32],
            state_root: [4; 32],
            tx_count: 9,
        };
        assert_eq!(Header::decode(&h.encode()), Ok(h));
        let variants = [
            Header { height: 8, ..h },
            Header {
                prev_hash: [9; 32],
                ..h
            },
            Header {
                timestamp_ms: 1,
                ..h
            },
            Header {
                tx_root: [9; 32],
                ..h
            },
            Header {
                receipt_root: [9; 32],
                ..h
            },
            Header {
                state_root: [9; 32],
                ..h
            },
            Header { tx_count: 10, ..h },
        ];
        for v in variants {
            assert_ne!(v.hash(), h.hash(), "{v:?}");
        }
        assert!(Header::decode(&h.encode()[1..]).is_err());
        let mut bad = h.encode();
        bad[0] = b'X';
        assert!(Header::decode(&bad).is_err());
    }

    #[test]
    fn attributes_keep_their_order() {
        let a = Attributes(vec![("z".into(), "1".into()), ("a".into(), "2".into())]);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"z":"1","a":"2"}"#);
        assert_eq!(serde_json::from_str::<Attributes>(&json).unwrap(), a);
    }
}
