//! Chain data: addresses and hashes, transactions, Merkle roots, blocks and receipts. Everything
//! here is pure (no IO) and every encoding that is hashed is specified in
//! `docs/chain-format.md`.

pub mod block;
pub mod merkle;
pub mod tx;

use sha2::{Digest, Sha256};

/// SHA-256 output.
pub type Hash = [u8; 32];
/// An account or contract address: the first 20 bytes of a SHA-256.
pub type Address = [u8; 20];

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Address of a public key (SPEC.md section 1): the first 20 bytes of SHA-256 of its 33-byte
/// compressed SEC1 form.
pub fn address_of_key(compressed: &[u8]) -> Address {
    let digest = sha256(&[compressed]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&digest[..20]);
    a
}

/// Address of a contract: the first 20 bytes of SHA-256 of a domain tag, the creator and the
/// creator's nonce of the instantiate transaction (big-endian).
pub fn contract_address(creator: &Address, nonce: u64) -> Address {
    let digest = sha256(&[b"vellum/contract/v1", creator, &nonce.to_be_bytes()]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&digest[..20]);
    a
}

/// Parses exactly `N` bytes of lowercase or uppercase hex.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}
