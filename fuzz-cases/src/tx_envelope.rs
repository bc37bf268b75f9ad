//! Envelope decoding and verification never panic, whatever the bytes: as a JSON body, and as
//! raw fields (payload text, key and signature hex). An envelope that verifies is consistent:
//! its hash is SHA-256 of the payload bytes, its signer the address of its key, its fuel limit
//! within the maximum, and it has a storage record.

use vellum_node::chain::tx::{Envelope, KeyCache, verify_envelope};
use vellum_node::chain::{address_of_key, sha256};
use vellum_node::store::StoredTx;

/// The chain id every fuzz input is verified against.
pub const CHAIN_ID: &str = "fuzz";

fn check(envelope: Envelope, keys: &KeyCache) {
    let Ok(tx) = verify_envelope(envelope.clone(), CHAIN_ID, keys) else {
        return;
    };
    assert_eq!(tx.hash, sha256(&[envelope.payload.as_bytes()]));
    let key = hex_decode(&envelope.public_key).expect("a verified key is hex");
    assert_eq!(tx.signer, address_of_key(&key));
    assert!(tx.fuel_limit <= vellum_node::limits::FUEL_MAX);
    assert_eq!(*tx.envelope, envelope);
    let record = StoredTx::encode(&envelope).expect("a verified envelope has a record");
    assert_eq!(record.len(), 97 + envelope.payload.len());
    assert_eq!(
        StoredTx::record(&tx),
        record,
        "the execution stage's record is the envelope's"
    );
}

/// The target.
pub fn run(data: &[u8]) {
    let keys = KeyCache::default();
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(data) {
        // The JSON shape round-trips.
        let again = serde_json::to_vec(&envelope).expect("an envelope serialises");
        assert_eq!(
            serde_json::from_slice::<Envelope>(&again).ok().as_ref(),
            Some(&envelope)
        );
        check(envelope, &keys);
    }
    if data.len() >= 97 {
        let envelope = Envelope {
            public_key: hex_of(&data[..33]),
            signature: hex_of(&data[33..97]),
            payload: String::from_utf8_lossy(&data[97..]).into_owned(),
        };
        check(envelope, &keys);
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
