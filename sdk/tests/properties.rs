//! Property tests for the SDK's encodings: storage keys (round trip, order, prefix grouping),
//! addresses (hex in JSON, 20 raw bytes in postcard) and hex.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use vellum_sdk::storage::Key;
use vellum_sdk::{Address, hex_decode, hex_encode};

fn enc<K: Key>(k: &K) -> Vec<u8> {
    let mut v = Vec::new();
    k.encode(&mut v);
    v
}

proptest! {
    #[test]
    fn keys_round_trip(s in ".{0,24}", b in proptest::collection::vec(any::<u8>(), 0..24), n in any::<u64>(), w in any::<u128>(), a in any::<[u8; 20]>()) {
        prop_assert_eq!(String::decode(&enc(&s)), Some(s.clone()));
        prop_assert_eq!(Vec::<u8>::decode(&enc(&b)), Some(b.clone()));
        prop_assert_eq!(u64::decode(&enc(&n)), Some(n));
        prop_assert_eq!(u128::decode(&enc(&w)), Some(w));
        prop_assert_eq!(Address::decode(&enc(&Address(a))), Some(Address(a)));
        prop_assert_eq!(<(String, u64)>::decode(&enc(&(s.clone(), n))), Some((s.clone(), n)));
        prop_assert_eq!(<(Vec<u8>, String)>::decode(&enc(&(b.clone(), s.clone()))), Some((b, s)));
        prop_assert_eq!(<(Address, u64)>::decode(&enc(&(Address(a), n))), Some((Address(a), n)));
    }

    #[test]
    fn integer_and_tuple_keys_sort_like_their_values(a in any::<(u64, u32)>(), b in any::<(u64, u32)>(), x in any::<u128>(), y in any::<u128>()) {
        prop_assert_eq!(enc(&a).cmp(&enc(&b)), a.cmp(&b));
        prop_assert_eq!(enc(&x).cmp(&enc(&y)), x.cmp(&y));
    }

    #[test]
    fn tuple_keys_group_by_their_first_component(a1 in "[a-z]{0,6}", a2 in "[a-z]{0,6}", b1 in any::<u64>(), b2 in any::<u64>()) {
        // Every key with first component a1 lies strictly between the encodings that bound a
        // different a2's keys: no prefix scan over a1 can return an a2 entry.
        prop_assume!(a1 != a2);
        let k1 = enc(&(a1.clone(), b1));
        let k2 = enc(&(a2.clone(), b2));
        let prefix1 = &k1[..2 + a1.len()];
        prop_assert!(!k2.starts_with(prefix1));
        // Decoding is exact: a key decodes as exactly one tuple, and trailing or missing bytes fail.
        let mut longer = k1.clone();
        longer.push(0);
        prop_assert_eq!(<(String, u64)>::decode(&longer), None);
        prop_assert_eq!(<(String, u64)>::decode(&k1[..k1.len() - 1]), None);
    }

    #[test]
    fn undecodable_keys_are_refused_not_panicked(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = <(String, u64)>::decode(&bytes);
        let _ = <(Vec<u8>, Address)>::decode(&bytes);
        if let Some(k) = <(String, u64)>::decode(&bytes) {
            // What decodes re-encodes to the same bytes (one encoding per key).
            prop_assert_eq!(enc(&k), bytes);
        }
    }

    #[test]
    fn addresses_are_hex_in_json_and_raw_in_postcard(a in any::<[u8; 20]>()) {
        let addr = Address(a);
        let json = serde_json::to_string(&addr).unwrap();
        prop_assert_eq!(json.clone(), format!("\"{}\"", hex_encode(&a)));
        prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), addr);
        let bin = postcard::to_allocvec(&addr).unwrap();
        prop_assert_eq!(bin.as_slice(), &a[..]);
        prop_assert_eq!(postcard::from_bytes::<Address>(&bin).unwrap(), addr);
        // Any other length is refused.
        prop_assert!(postcard::from_bytes::<Address>(&bin[..19]).is_err());
        let short = format!("\"{}\"", hex_encode(&a[..19]));
        prop_assert!(serde_json::from_str::<Address>(&short).is_err());
    }

    #[test]
    fn hex_round_trips_in_either_case_and_refuses_the_rest(a in any::<[u8; 8]>(), junk in "[0-9a-zA-Z]{16}") {
        let h = hex_encode(&a);
        prop_assert_eq!(hex_decode::<8>(&h), Some(a));
        prop_assert_eq!(hex_decode::<8>(&h.to_uppercase()), Some(a));
        prop_assert_eq!(hex_decode::<8>(&h[1..]), None);
        let valid = junk.chars().all(|c| c.is_ascii_hexdigit());
        prop_assert_eq!(hex_decode::<8>(&junk).is_some(), valid);
    }
}
