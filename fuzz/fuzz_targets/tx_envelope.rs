//! Envelope decoding and verification never panic, whatever the bytes: as a JSON body, and as
//! raw fields (payload text, key and signature hex).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_node::chain::tx::{Envelope, KeyCache, verify_envelope};

fuzz_target!(|data: &[u8]| {
    let keys = KeyCache::default();
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(data) {
        let _ = verify_envelope(envelope, "fuzz", &keys);
    }
    if data.len() >= 97 {
        let envelope = Envelope {
            public_key: hex_of(&data[..33]),
            signature: hex_of(&data[33..97]),
            payload: String::from_utf8_lossy(&data[97..]).into_owned(),
        };
        let _ = verify_envelope(envelope, "fuzz", &keys);
    }
});

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
