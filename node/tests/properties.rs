//! Property tests for the chain's encodings and commitments: the header codec (round trip,
//! injectivity, canonicality), receipts' canonical bytes, Merkle roots, the state-root chain,
//! the storage key space (positions, event-index keys, state tags), payload and envelope JSON,
//! transaction signing (sign -> verify; any tampering, the high-S twin, another key, another
//! chain -> refused), and the ABI codecs the runtime and SDK share (round trip, canonicality,
//! truncation). The SDK's key and address encodings are in sdk/tests/properties.rs; the
//! fuzz targets' short forms in fuzz-cases/tests/targets.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use k256::ecdsa::{Signature, SigningKey};
use proptest::prelude::*;
use vellum_node::chain::block::{
    Attributes, HEADER_BYTES, HEADER_MAGIC, Header, Receipt, ReceiptEvent,
};
use vellum_node::chain::tx::{
    Action, KeyCache, address_of_signing_key, payload_json, sign, verify_envelope, verify_signature,
};
use vellum_node::chain::tx::{Envelope, Payload, TxError};
use vellum_node::chain::{Hash, merkle};
use vellum_node::execute::next_state_root;
use vellum_node::store::{keys, position};

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

// ---- Canonicality, tampering and the storage key space (issue 6) ----

fn signing_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_filter_map("valid scalar", |s| SigningKey::from_slice(&s).ok())
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        "[A-Za-z0-9+/]{0,12}".prop_map(|code| Action::Deploy { code }),
        (hash(), "[ -~]{0,20}", "[a-z]{0,8}").prop_map(|(h, note, label)| Action::Instantiate {
            code_hash: hex::encode(h),
            msg: serde_json::value::to_raw_value(&serde_json::json!({ "note": note })).unwrap(),
            label,
        }),
        (any::<[u8; 20]>(), any::<u32>()).prop_map(|(c, n)| Action::Execute {
            contract: hex::encode(c),
            msg: serde_json::value::to_raw_value(&serde_json::json!({ "n": n })).unwrap(),
        }),
    ]
}

prop_compose! {
    fn receipt()(tx in hash(), block_height in any::<u64>(), index in any::<u32>(), signer in any::<[u8; 20]>(),
                 nonce in any::<u64>(), success in any::<bool>(), error in proptest::option::of("[ -~]{0,20}"),
                 fuel_used in any::<u64>(), events in proptest::collection::vec(("[a-z]{1,8}", proptest::collection::vec(("[a-z]{1,4}", ".{0,8}"), 0..3)), 0..3),
                 output in prop_oneof![Just("null".to_string()), "[a-z]{0,8}".prop_map(|s| format!("{{\"k\":\"{s}\"}}"))]) -> Receipt {
        Receipt {
            tx_hash: hex::encode(tx), block_height, index, signer: hex::encode(signer), nonce, success, error, fuel_used,
            events: events.into_iter().map(|(ty, attrs)| {
                let mut seen = std::collections::HashSet::new();
                ReceiptEvent { contract: hex::encode(signer), ty, attributes: Attributes(attrs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect()) }
            }).collect(),
            output: serde_json::value::RawValue::from_string(output).unwrap(),
        }
    }
}

proptest! {
    #[test]
    fn header_bytes_that_decode_are_canonical(body in proptest::collection::vec(any::<u8>(), HEADER_BYTES - 8)) {
        // Every 156-byte string with the magic decodes, and re-encodes to exactly itself: one
        // encoding per header, so the header hash is a function of the header.
        let bytes = [&HEADER_MAGIC[..], &body].concat();
        let h = Header::decode(&bytes).unwrap();
        prop_assert_eq!(h.encode().to_vec(), bytes.clone());
        let mut other_magic = bytes.clone();
        other_magic[7] ^= 1;
        prop_assert!(Header::decode(&other_magic).is_err());
    }

    #[test]
    fn receipt_bytes_are_canonical_and_commit_to_every_field(r in receipt(), field in 0usize..9) {
        let bytes = r.encode();
        let back: Receipt = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(back.encode(), bytes.clone());
        let mut changed = r.clone();
        match field {
            0 => changed.tx_hash.push('0'),
            1 => changed.block_height ^= 1,
            2 => changed.index ^= 1,
            3 => changed.nonce ^= 1,
            4 => changed.success = !changed.success,
            5 => changed.error = if r.error.is_some() { None } else { Some(String::new()) },
            6 => changed.fuel_used ^= 1,
            7 => changed.events.push(ReceiptEvent { contract: String::new(), ty: "x".into(), attributes: Attributes::default() }),
            _ => changed.signer.push('0'),
        }
        prop_assert_ne!(changed.encode(), bytes);
    }

    #[test]
    fn position_keys_sort_in_chain_order(a in any::<(u64, u32)>(), b in any::<(u64, u32)>()) {
        prop_assert_eq!(position(a.0, a.1).cmp(&position(b.0, b.1)), a.cmp(&b));
    }

    #[test]
    fn event_index_keys_sort_in_chain_order_within_a_prefix_and_prefixes_never_mix(
        c1 in any::<[u8; 20]>(), k1 in "[a-z_]{0,6}", v1 in ".{0,6}",
        c2 in any::<[u8; 20]>(), k2 in "[a-z_]{0,6}", v2 in ".{0,6}",
        p1 in any::<(u64, u32, u16)>(), p2 in any::<(u64, u32, u16)>(),
    ) {
        let a = keys::event_prefix(&c1, &k1, &v1);
        let ka = keys::event(&a, p1.0, p1.1, p1.2);
        prop_assert_eq!(ka.cmp(&keys::event(&a, p2.0, p2.1, p2.2)), p1.cmp(&p2));
        let b = keys::event_prefix(&c2, &k2, &v2);
        let kb = keys::event(&b, p2.0, p2.1, p2.2);
        // A page of one (contract, key, value) never returns another's entries.
        prop_assert_eq!(kb.starts_with(&a), (c1, &k1, &v1) == (c2, &k2, &v2));
        prop_assert_eq!(ka.starts_with(&b), (c1, &k1, &v1) == (c2, &k2, &v2));
    }

    #[test]
    fn the_state_key_space_is_partitioned_by_tag(a in any::<[u8; 20]>(), h in hash(), k in proptest::collection::vec(any::<u8>(), 0..8)) {
        let all = [keys::code(&h), keys::contract(&a), keys::nonce(&a), [keys::storage_prefix(&a), k].concat()];
        let tags: Vec<u8> = all.iter().map(|k| k[0]).collect();
        prop_assert_eq!(tags, vec![keys::CODE, keys::CONTRACT, keys::NONCE, keys::STORAGE]);
        prop_assert_eq!(all[0].len(), 33);
        prop_assert_eq!(all[1].len(), 21);
        prop_assert_eq!(all[2].len(), 21);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn payload_and_envelope_json_round_trip(key in signing_key(), nonce in any::<u64>(), fuel in proptest::option::of(any::<u64>()), action in action()) {
        let payload = payload_json("prop", &address_of_signing_key(&key), nonce, fuel, &action);
        // The exact text a client signs is what serde_json writes for the parsed payload.
        let parsed: Payload = serde_json::from_str(&payload).unwrap();
        prop_assert_eq!(payload_json(&parsed.chain_id, &address_of_signing_key(&key), parsed.nonce, parsed.fuel_limit, &parsed.action), payload.clone());
        let envelope = sign(&payload, &key);
        let json = serde_json::to_string(&envelope).unwrap();
        prop_assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope.clone());
        // Unknown fields are refused (one meaning per envelope).
        let extra = json.replacen('{', "{\"extra\":1,", 1);
        prop_assert!(serde_json::from_str::<Envelope>(&extra).is_err());
    }

    #[test]
    fn tampered_signatures_keys_chains_and_signers_are_refused(
        key in signing_key(), other in signing_key(), nonce in any::<u64>(), at in 0usize..64, bit in 0u8..8,
    ) {
        prop_assume!(key.to_bytes() != other.to_bytes());
        let keys = KeyCache::default();
        let msg = serde_json::value::to_raw_value(&serde_json::json!({ "n": 1 })).unwrap();
        let action = Action::Execute { contract: "22".repeat(20), msg };
        let payload = payload_json("prop", &address_of_signing_key(&key), nonce, None, &action);
        let envelope = sign(&payload, &key);
        prop_assert!(verify_envelope(envelope.clone(), "prop", &keys).is_ok());

        // One bit of the signature.
        let mut sig = hex::decode(&envelope.signature).unwrap();
        sig[at] ^= 1 << bit;
        let tampered = Envelope { signature: hex::encode(&sig), ..envelope.clone() };
        prop_assert!(verify_envelope(tampered, "prop", &keys).is_err());

        // The high-S twin: the same signature mathematically, refused as malleable.
        let s = Signature::from_slice(&hex::decode(&envelope.signature).unwrap()).unwrap();
        let high = Signature::from_scalars(s.r(), -*s.s()).unwrap();
        let twin = Envelope { signature: hex::encode(high.to_bytes()), ..envelope.clone() };
        prop_assert_eq!(verify_envelope(twin, "prop", &keys).err(), Some(TxError::HighS));

        // Another key over the same payload: the signature no longer matches the key.
        let wrong_key = Envelope { public_key: sign(&payload, &other).public_key, ..envelope.clone() };
        prop_assert!(matches!(verify_envelope(wrong_key, "prop", &keys), Err(TxError::InvalidSignature(_))));

        // Another key signing a payload that names this signer: signer mismatch.
        let impostor = sign(&payload, &other);
        prop_assert!(matches!(verify_envelope(impostor, "prop", &keys), Err(TxError::SignerMismatch { .. })), "impostor accepted");

        // Another chain: refused however valid the signature.
        prop_assert!(matches!(verify_envelope(envelope, "other-chain", &keys), Err(TxError::WrongChain { .. })), "other chain accepted");
    }
}

/// The group order n of secp256k1, big-endian.
fn order() -> [u8; 32] {
    hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        .unwrap()
        .try_into()
        .unwrap()
}

/// What k256, the reference, accepts: `r || s` parsing as scalars in 1..n, low-S, verifying.
fn k256_accepts(key: &[u8; 33], msg: &[u8], sig: &[u8; 64]) -> bool {
    use k256::ecdsa::signature::Verifier as _;
    let Ok(vk) = k256::ecdsa::VerifyingKey::from_sec1_bytes(key) else {
        return false;
    };
    match Signature::from_slice(sig) {
        Ok(s) => s.normalize_s() == s && vk.verify(msg, &s).is_ok(),
        Err(_) => false,
    }
}

/// Edits of a valid signature that probe the edges of the accepted set.
#[derive(Debug, Clone)]
enum SigEdit {
    None,
    Flip(usize, u8),
    HighS,
    ZeroR,
    ZeroS,
    /// r or s set to n + delta (delta may be negative): at n and above, not a scalar.
    Order {
        s: bool,
        delta: i8,
    },
    Random([u8; 32], [u8; 32]),
}

fn sig_edit() -> impl Strategy<Value = SigEdit> {
    prop_oneof![
        Just(SigEdit::None),
        (0usize..64, 0u8..8).prop_map(|(i, b)| SigEdit::Flip(i, b)),
        Just(SigEdit::HighS),
        Just(SigEdit::ZeroR),
        Just(SigEdit::ZeroS),
        (any::<bool>(), -3i8..3).prop_map(|(s, delta)| SigEdit::Order { s, delta }),
        (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(r, s)| SigEdit::Random(r, s)),
    ]
}

/// `n + delta` as 32 big-endian bytes (wrapping, which never matters for |delta| < 4).
fn order_plus(delta: i8) -> [u8; 32] {
    let mut v = order();
    let mut carry = i16::from(delta);
    for byte in v.iter_mut().rev() {
        let sum = i16::from(*byte) + carry;
        *byte = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
        if carry == 0 {
            break;
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The node checks signatures with libsecp256k1, for speed; k256 is the reference. The two
    /// must accept exactly the same signatures, or nodes built on different libraries (or a
    /// replay with the other one) would disagree about which transactions are valid.
    #[test]
    fn the_node_check_accepts_exactly_what_k256_accepts(
        key in signing_key(), msg in proptest::collection::vec(any::<u8>(), 0..64), edit in sig_edit(),
    ) {
        use k256::ecdsa::signature::Signer as _;
        let public: [u8; 33] = key.verifying_key().to_sec1_point(true).as_bytes().try_into().unwrap();
        let good: Signature = key.sign(&msg);
        let mut sig: [u8; 64] = good.to_bytes().into();
        match edit {
            SigEdit::None => {}
            SigEdit::Flip(i, b) => sig[i] ^= 1 << b,
            SigEdit::HighS => {
                sig = Signature::from_scalars(good.r(), -*good.s()).unwrap().to_bytes().into();
            }
            SigEdit::ZeroR => sig[..32].fill(0),
            SigEdit::ZeroS => sig[32..].fill(0),
            SigEdit::Order { s, delta } => {
                let at = if s { 32 } else { 0 };
                sig[at..at + 32].copy_from_slice(&order_plus(delta));
            }
            SigEdit::Random(r, s) => {
                sig[..32].copy_from_slice(&r);
                sig[32..].copy_from_slice(&s);
            }
        }
        let ours = verify_signature(&public, &msg, &sig, &KeyCache::default()).is_ok();
        prop_assert_eq!(ours, k256_accepts(&public, &msg, &sig), "edit {:?}", edit);
        if matches!(edit, SigEdit::None) {
            prop_assert!(ours, "a valid signature was refused");
        }
    }

    /// Public keys: both libraries accept the same 33-byte compressed encodings.
    #[test]
    fn the_node_accepts_exactly_the_public_keys_k256_accepts(tag in 0u8..5, x in any::<[u8; 32]>()) {
        let mut public = [0u8; 33];
        public[0] = tag;
        public[1..].copy_from_slice(&x);
        let k256_ok = matches!(tag, 2 | 3) && k256::ecdsa::VerifyingKey::from_sec1_bytes(&public).is_ok();
        let ours = verify_signature(&public, b"m", &[1u8; 64], &KeyCache::default());
        // A key that parses gets as far as the signature check (which fails here).
        prop_assert_eq!(!matches!(ours, Err(TxError::InvalidPublicKey(_))), k256_ok, "{:?}", ours);
    }
}

proptest! {
    #[test]
    fn abi_encodings_are_canonical_and_truncations_are_refused(
        ty in "[a-z]{1,8}",
        attrs in proptest::collection::vec(("[a-z]{1,4}", ".{0,6}"), 0..4),
        entries in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..6), proptest::collection::vec(any::<u8>(), 0..6)), 1..5),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        use vellum_abi::codec::*;
        let refs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let event = encode_event(&ty, &refs);
        for cut in 0..event.len() {
            prop_assert!(decode_event(&event[..cut], 64).is_err(), "prefix {} decoded", cut);
        }
        // Any one-byte change either fails to decode or decodes to a value whose encoding is
        // exactly the changed bytes: no two encodings of one event.
        let mut changed = event.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        if let Ok((t, a)) = decode_event(&changed, 64) {
            let r: Vec<(&str, &str)> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            prop_assert_eq!(encode_event(&t, &r), changed);
        }
        let scan = encode_scan(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        for cut in 0..scan.len() {
            // A cut inside an entry fails; a cut between entries is a shorter, valid list.
            if let Ok(got) = decode_scan(&scan[..cut]) {
                prop_assert!(got.len() < entries.len());
                prop_assert_eq!(&got[..], &entries[..got.len()]);
            }
        }
        let mut changed = scan.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        if let Ok(e) = decode_scan(&changed) {
            prop_assert_eq!(encode_scan(e.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))), changed);
        }
    }
}
