//! The ABI decoders (events, scan results) never panic and re-encode what they decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_abi::codec::{decode_event, decode_scan, encode_event, encode_scan};

fuzz_target!(|data: &[u8]| {
    if let Ok((ty, attrs)) = decode_event(data, 32) {
        let refs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(encode_event(&ty, &refs), data);
    }
    if let Ok(entries) = decode_scan(data) {
        assert_eq!(encode_scan(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))), data);
    }
});
