//! Transaction verification (SPEC.md sections 1 and 2): what is accepted, everything that is
//! refused with its error code, nonces, replays, and the Wycheproof secp256k1 vectors through our
//! own verification path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use k256::ecdsa::Signature;
use vellum_node::chain::tx::{
    Envelope, KeyCache, TxError, sign, verify_envelope, verify_signature,
};
use vellum_node::ledger::{Ledger, LedgerConfig};

fn counter_action() -> vellum_node::chain::tx::Action {
    execute(&[7; 20], serde_json::json!({"increment": {}}))
}

fn verify(e: Envelope) -> Result<(), TxError> {
    verify_envelope(e, CHAIN, &KeyCache::default()).map(|_| ())
}

#[test]
fn a_valid_transaction_verifies_and_its_hash_is_sha256_of_the_payload() {
    let k = key("alice");
    let env = signed(&k, 0, counter_action());
    let tx = verify_envelope(env.clone(), CHAIN, &KeyCache::default()).unwrap();
    assert_eq!(
        tx.hash,
        vellum_node::chain::sha256(&[env.payload.as_bytes()])
    );
    assert_eq!(tx.signer, addr(&k));
    assert_eq!(tx.fuel_limit, vellum_node::limits::FUEL_DEFAULT);
}

#[test]
fn the_high_s_twin_of_a_valid_signature_is_refused() {
    let k = key("alice");
    let env = signed(&k, 0, counter_action());
    let sig = Signature::from_slice(&hex::decode(&env.signature).unwrap()).unwrap();
    // s' = n - s: the same signature mathematically, the malleable encoding.
    let (r, s) = (sig.r(), sig.s());
    let high = Signature::from_scalars(r, -*s).unwrap();
    assert_ne!(high.normalize_s(), high);
    let twin = Envelope {
        signature: hex::encode(high.to_bytes()),
        ..env.clone()
    };
    assert_eq!(verify(twin), Err(TxError::HighS));
    assert!(verify(env).is_ok());
}

#[test]
fn wrong_chain_signer_payload_and_encodings_are_refused() {
    let k = key("alice");
    let other = key("mallory");
    let action = counter_action();

    let wrong_chain = sign(
        &vellum_node::chain::tx::payload_json("other-chain", &addr(&k), 0, None, &action),
        &k,
    );
    assert!(matches!(
        verify(wrong_chain),
        Err(TxError::WrongChain { .. })
    ));

    // Signed by alice but claiming mallory as signer.
    let lying = sign(
        &vellum_node::chain::tx::payload_json(CHAIN, &addr(&other), 0, None, &action),
        &k,
    );
    assert!(matches!(verify(lying), Err(TxError::SignerMismatch { .. })));

    // A signature over other bytes: alice's signature of nonce 1 on a payload with nonce 0.
    let a = signed(&k, 0, action.clone());
    let b = signed(&k, 1, action.clone());
    let swapped = Envelope {
        signature: b.signature.clone(),
        ..a.clone()
    };
    assert!(matches!(verify(swapped), Err(TxError::InvalidSignature(_))));
    // The payload changed by one byte of whitespace after signing.
    let spaced = Envelope {
        payload: format!("{} ", a.payload),
        ..a.clone()
    };
    assert!(matches!(verify(spaced), Err(TxError::InvalidSignature(_))));

    // Truncated and DER-encoded signatures.
    let truncated = Envelope {
        signature: a.signature[..126].to_string(),
        ..a.clone()
    };
    assert!(matches!(
        verify(truncated),
        Err(TxError::InvalidSignature(_))
    ));
    let der = Signature::from_slice(&hex::decode(&a.signature).unwrap())
        .unwrap()
        .to_der();
    let der_env = Envelope {
        signature: hex::encode(der.as_bytes()),
        ..a.clone()
    };
    assert!(matches!(verify(der_env), Err(TxError::InvalidSignature(_))));
    let not_hex = Envelope {
        signature: "zz".repeat(64),
        ..a.clone()
    };
    assert!(matches!(verify(not_hex), Err(TxError::InvalidSignature(_))));
    // SPEC's hex fields are bare hex: a `0x` prefix is refused, not stripped (some hex crates
    // strip it, which would widen the accept set).
    let prefixed_sig = Envelope {
        signature: format!("0x{}", a.signature),
        ..a.clone()
    };
    assert!(matches!(
        verify(prefixed_sig),
        Err(TxError::InvalidSignature(_))
    ));
    let prefixed_key = Envelope {
        public_key: format!("0x{}", a.public_key),
        ..a.clone()
    };
    assert!(matches!(
        verify(prefixed_key),
        Err(TxError::InvalidPublicKey(_))
    ));
    let bare = format!("\"signer\":\"{}\"", hex::encode(addr(&k)));
    assert!(a.payload.contains(&bare), "{}", a.payload);
    let prefixed_signer = sign(
        &a.payload.replace(
            &bare,
            &format!("\"signer\":\"0x{}\"", hex::encode(addr(&k))),
        ),
        &k,
    );
    assert!(matches!(
        verify(prefixed_signer),
        Err(TxError::SignerMismatch { .. })
    ));

    // Uncompressed or garbage public keys.
    let uncompressed = hex::encode(k.verifying_key().to_sec1_point(false).as_bytes());
    assert!(matches!(
        verify(Envelope {
            public_key: uncompressed,
            ..a.clone()
        }),
        Err(TxError::InvalidPublicKey(_))
    ));
    let mut bad_key = hex::decode(&a.public_key).unwrap();
    bad_key[0] = 0x05;
    let r = verify(Envelope {
        public_key: hex::encode(bad_key),
        ..a.clone()
    });
    assert!(matches!(r, Err(TxError::InvalidPublicKey(_))), "{r:?}");

    // Payloads that are signed correctly but malformed.
    for payload in [
        "not json".to_string(),
        "{}".to_string(),
        format!(
            r#"{{"chain_id":"{CHAIN}","signer":"{}","nonce":-1,"action":{{"deploy":{{"code":""}}}}}}"#,
            hex::encode(addr(&k))
        ),
        format!(
            r#"{{"chain_id":"{CHAIN}","signer":"{}","nonce":0,"action":{{"launch":{{}}}}}}"#,
            hex::encode(addr(&k))
        ),
        format!(
            r#"{{"chain_id":"{CHAIN}","signer":"{}","nonce":0,"action":{{"deploy":{{"code":"!!"}}}}}}"#,
            hex::encode(addr(&k))
        ),
    ] {
        let e = sign(&payload, &k);
        assert!(matches!(verify(e), Err(TxError::Malformed(_))), "{payload}");
    }
    // Fuel above the maximum.
    let greedy = sign(
        &vellum_node::chain::tx::payload_json(CHAIN, &addr(&k), 0, Some(u64::MAX), &action),
        &k,
    );
    assert!(matches!(verify(greedy), Err(TxError::FuelLimit(_))));
    // Code that is not a valid contract is refused at submission.
    let junk = signed(&k, 0, deploy(b"\0asm\x01\0\0\0"));
    assert!(matches!(verify(junk), Err(TxError::InvalidCode(_))));
}

#[test]
fn every_refusal_has_a_stable_snake_case_code() {
    let errors = [
        TxError::Malformed(String::new()),
        TxError::HighS,
        TxError::StaleNonce {
            expected: 1,
            got: 0,
        },
        TxError::NonceGap {
            expected: 1,
            got: 3,
        },
        TxError::MempoolFull("bytes"),
    ];
    for e in errors {
        let code = e.code();
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
    }
}

#[test]
fn nonces_must_be_exactly_next_and_committed_transactions_cannot_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap();
    let k = key("alice");
    let a = addr(&k);
    assert_eq!(ledger.next_nonce(&a).unwrap(), 0);

    // A gap is refused.
    let gap = signed(&k, 1, counter_action());
    assert!(matches!(
        ledger.submit(gap.clone()),
        Err(TxError::NonceGap {
            expected: 0,
            got: 1
        })
    ));

    let first = signed(&k, 0, counter_action());
    let (_, receipt) = ledger.submit(first.clone()).unwrap();
    // While pending: the same transaction again is a duplicate; the next nonce counts it.
    assert!(matches!(
        ledger.submit(first.clone()),
        Err(TxError::Duplicate(_))
    ));
    let receipt = receipt.blocking_recv().unwrap();
    // The contract does not exist, so execution failed, but the nonce is consumed.
    assert!(!receipt.success);
    assert_eq!(ledger.next_nonce(&a).unwrap(), 1);

    // Replaying the committed transaction is refused.
    assert!(matches!(ledger.submit(first), Err(TxError::Duplicate(_))));
    // A different transaction with the used nonce is stale.
    let stale = sign(
        &vellum_node::chain::tx::payload_json(CHAIN, &a, 0, Some(5), &counter_action()),
        &k,
    );
    assert!(matches!(
        ledger.submit(stale),
        Err(TxError::StaleNonce {
            expected: 1,
            got: 0
        })
    ));
    // And nonce 1 now goes through.
    let (_, r) = ledger.submit(gap).unwrap();
    assert_eq!(r.blocking_recv().unwrap().nonce, 1);
}

#[test]
fn wycheproof_secp256k1_sha256_bitcoin_vectors_pass_through_our_verification() {
    use wycheproof::TestResult;
    use wycheproof::ecdsa::{TestName, TestSet};

    let set = TestSet::load(TestName::EcdsaSecp256k1Sha256Bitcoin).unwrap();
    let keys = KeyCache::default();
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&group.key.key).unwrap();
        let compressed: [u8; 33] = vk.to_sec1_point(true).as_bytes().try_into().unwrap();
        for test in &group.tests {
            // Our wire format is raw r || s; a DER signature that does not parse strictly cannot
            // even be expressed in it, which is a refusal.
            let ours = match Signature::from_der(&test.sig) {
                Ok(sig) => {
                    let raw: [u8; 64] = sig.to_bytes().into();
                    verify_signature(&compressed, &test.msg, &raw, &keys).is_ok()
                }
                Err(_) => false,
            };
            let expected = test.result == TestResult::Valid;
            assert_eq!(
                ours, expected,
                "tc {}: {} ({:?})",
                test.tc_id, test.comment, test.flags
            );
            if expected { valid += 1 } else { invalid += 1 }
        }
    }
    assert!(
        valid > 50 && invalid > 200,
        "{valid} valid, {invalid} invalid vectors"
    );
}
