//! Binary Merkle roots over 32-byte leaves, with domain separation between leaves and inner
//! nodes, and an odd node promoted unchanged (never duplicated, which would let two different
//! lists share a root).

use super::{Hash, sha256};

/// Root of an empty list.
pub const EMPTY_ROOT: Hash = [0u8; 32];

/// The Merkle root of `leaves` (each already a hash).
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return EMPTY_ROOT;
    }
    let mut level: Vec<Hash> = leaves.iter().map(|l| sha256(&[&[0x00], l])).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => sha256(&[&[0x01], l, r]),
                [single] => *single,
                _ => EMPTY_ROOT, // chunks(2) yields one or two items
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> Hash {
        [i; 32]
    }

    #[test]
    fn known_shapes() {
        assert_eq!(root(&[]), EMPTY_ROOT);
        let a = sha256(&[&[0], &leaf(1)]);
        assert_eq!(root(&[leaf(1)]), a);
        let b = sha256(&[&[0], &leaf(2)]);
        let c = sha256(&[&[0], &leaf(3)]);
        let ab = sha256(&[&[1], &a, &b]);
        assert_eq!(root(&[leaf(1), leaf(2)]), ab);
        // Three leaves: the odd one is promoted, not duplicated.
        assert_eq!(root(&[leaf(1), leaf(2), leaf(3)]), sha256(&[&[1], &ab, &c]));
        assert_ne!(
            root(&[leaf(1), leaf(2), leaf(3)]),
            root(&[leaf(1), leaf(2), leaf(3), leaf(3)])
        );
    }

    #[test]
    fn a_leaf_is_not_a_node() {
        // A list whose single leaf equals an inner node of another list has another root.
        let inner = sha256(&[&[1], &sha256(&[&[0], &leaf(1)]), &sha256(&[&[0], &leaf(2)])]);
        assert_ne!(root(&[inner]), root(&[leaf(1), leaf(2)]));
    }
}
