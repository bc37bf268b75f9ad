//! Property tests for the chain's encodings and commitments: the header codec, receipt
//! attributes, Merkle roots, the state-root chain, transaction signing, and the ABI codecs the
//! runtime and SDK share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use k256::ecdsa::SigningKey;
use proptest::prelude::*;
use vellum_node::chain::block::{Attributes, Header};
use vellum_node::chain::tx::{
    Action, KeyCache, address_of_signing_key, payload_json, sign, verify_envelope,
};
use vellum_node::chain::{Hash, merkle};
use vellum_node::execute::next_state_root;

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>()
}

prop_compose! {
    fn header()(height in any::<u64>(), prev_hash in hash(), timestamp_ms in any::<u64>(),
                tx_root in hash(), receipt_root in hash(), state_root in hash(),
                tx_count in any::<u32>()) -> Header {
        Header { height, prev_hash, timestamp_ms, tx_root, receipt_root, state_root, tx_count }
    }
}

proptest! {
    #[test]
    fn header_encoding_round_trips_and_is_injective(a in header(), b in header()) {
        prop_assert_eq!(Header::decode(&a.encode()), Ok(a));
        prop_assert_eq!(a == b, a.hash() == b.hash());
    }

    #[test]
    fn header_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Header::decode(&bytes);
    }

    #[test]
    fn attributes_round_trip_in_order(pairs in proptest::collection::vec(("[a-z_]{1,8}", ".{0,16}"), 0..8)) {
        // Keys are unique within an event (the runtime enforces it).
        let mut seen = std::collections::HashSet::new();
        let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
        let a = Attributes(pairs);
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Attributes>(&json).unwrap(), a);
    }

    #[test]
    fn merkle_root_commits_to_every_leaf_and_the_order(leaves in proptest::collection::vec(hash(), 1..40), i in any::<prop::sample::Index>(), flip in 0u8..32) {
        let root = merkle::root(&leaves);
        let mut changed = leaves.clone();
        let at = i.index(changed.len());
        changed[at][flip as usize] ^= 1;
        prop_assert_ne!(merkle::root(&changed), root);
        // Appending anything, even a copy of the last leaf, changes the root.
        let mut longer = leaves.clone();
        longer.push(*leaves.last().unwrap());
        prop_assert_ne!(merkle::root(&longer), root);
        if leaves.len() > 1 && leaves[0] != leaves[1] {
            let mut swapped = leaves.clone();
            swapped.swap(0, 1);
            prop_assert_ne!(merkle::root(&swapped), root);
        }
    }

    #[test]
    fn the_state_root_commits_to_every_write(
        writes in proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..8), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)), 1..10),
        prev in hash(),
        i in any::<prop::sample::Index>(),
    ) {
        let root = next_state_root(&prev, &writes);
        let key = writes.keys().nth(i.index(writes.len())).unwrap().clone();
        let mut changed: BTreeMap<_, _> = writes.clone();
        let value = changed.get(&key).cloned().flatten();
        changed.insert(key.clone(), match value {
            Some(mut v) => { v.push(0); Some(v) }
            None => Some(Vec::new()),
        });
        prop_assert_ne!(next_state_root(&prev, &changed), root);
        let mut removed = writes.clone();
        removed.remove(&key);
        prop_assert_ne!(next_state_root(&prev, &removed), root);
        let mut other_prev = prev;
        other_prev[0] ^= 1;
        prop_assert_ne!(next_state_root(&other_prev, &writes), root);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn signed_transactions_verify_and_any_byte_change_is_refused(
        seed in any::<[u8; 32]>().prop_filter("valid scalar", |s| SigningKey::from_slice(s).is_ok()),
        nonce in any::<u64>(),
        text in "[ -~]{0,40}",
        at in any::<prop::sample::Index>(),
    ) {
        let key = SigningKey::from_slice(&seed).unwrap();
        let msg = serde_json::value::to_raw_value(&serde_json::json!({ "note": text })).unwrap();
        let action = Action::Execute { contract: "11".repeat(20), msg };
        let payload = payload_json("prop", &address_of_signing_key(&key), nonce, None, &action);
        let envelope = sign(&payload, &key);
        let keys = KeyCache::default();
        let tx = verify_envelope(envelope.clone(), "prop", &keys).unwrap();
        prop_assert_eq!(tx.nonce, nonce);
        prop_assert_eq!(tx.signer, address_of_signing_key(&key));
        // Change one byte of the payload (keeping it UTF-8): the signature no longer holds.
        let mut bytes = payload.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = vellum_node::chain::tx::Envelope { payload: String::from_utf8(bytes).unwrap(), ..envelope };
        prop_assert!(verify_envelope(tampered, "prop", &keys).is_err());
    }

    #[test]
    fn abi_codecs_round_trip_and_never_panic(
        ty in "[a-z]{1,10}",
        attrs in proptest::collection::vec(("[a-z]{1,6}", ".{0,12}"), 0..6),
        entries in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..10), proptest::collection::vec(any::<u8>(), 0..10)), 0..6),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        use vellum_abi::codec::*;
        let refs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (t, a) = decode_event(&encode_event(&ty, &refs), 64).unwrap();
        prop_assert_eq!(t, ty);
        prop_assert_eq!(a, attrs.clone());
        let scan = encode_scan(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        prop_assert_eq!(decode_scan(&scan).unwrap(), entries.clone());
        let _ = decode_event(&garbage, 64);
        let _ = decode_scan(&garbage);
    }
}
