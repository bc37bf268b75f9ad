//! The ABI's byte codecs (events, scan results): decoding never panics on any bytes, and what
//! decodes re-encodes to exactly the same bytes (one encoding per value).

use vellum_abi::codec::{decode_event, decode_scan, encode_event, encode_scan, encoded_scan_len};

/// The target: `data` as an event and as a scan result.
pub fn run(data: &[u8]) {
    if let Ok((ty, attrs)) = decode_event(data, 32) {
        assert!(attrs.len() <= 32, "more attributes than allowed");
        let refs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(encode_event(&ty, &refs), data, "event re-encoding differs");
    }
    if let Ok(entries) = decode_scan(data) {
        let refs = || entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
        assert_eq!(encode_scan(refs()), data, "scan re-encoding differs");
        assert_eq!(
            encoded_scan_len(refs()),
            data.len(),
            "encoded_scan_len is wrong"
        );
    }
}
