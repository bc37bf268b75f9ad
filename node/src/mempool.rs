//! The mempool: verified transactions waiting for a block, bounded in count and bytes,
//! deduplicated by hash, and in nonce order per account by construction (a transaction is
//! admitted only with exactly the account's next nonce, counting those already admitted).
//!
//! A block may commit a transaction this pool still holds in its queue: on a cluster member
//! that has just become leader, a client's retry can be admitted while the old leader's block
//! holding the same transaction is in the Raft log but not applied yet. [`Mempool::committed`]
//! then takes it out of the queue, so that it is never proposed a second time.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::chain::tx::{TxError, VerifiedTx};
use crate::chain::{Address, Hash};
use crate::limits::{MEMPOOL_BYTES_MAX, MEMPOOL_TXS_MAX};

#[derive(Debug, Clone, Copy)]
struct Account {
    /// Nonce the next admitted transaction must carry.
    next_nonce: u64,
    /// Admitted transactions not yet committed (queued or in a block being made).
    outstanding: usize,
}

/// Admitted transactions, oldest first.
#[derive(Debug)]
pub struct Mempool {
    queue: VecDeque<VerifiedTx>,
    bytes: usize,
    /// Every transaction admitted and not yet committed, and whether it is still in `queue`
    /// (`false` once [`Mempool::take`] handed it out for a block).
    known: HashMap<Hash, bool>,
    accounts: HashMap<Address, Account>,
    /// How many account entries [`Mempool::committed`] has dropped. A committed nonce read from
    /// the store while this count stayed the same is still current for an account the pool
    /// holds nothing for: see [`Mempool::forgotten`].
    forgotten: u64,
    txs_max: usize,
    bytes_max: usize,
}

impl Default for Mempool {
    fn default() -> Self {
        Self::with_limits(MEMPOOL_TXS_MAX, MEMPOOL_BYTES_MAX)
    }
}

impl Mempool {
    /// A pool holding at most `txs_max` transactions and `bytes_max` bytes.
    pub fn with_limits(txs_max: usize, bytes_max: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            bytes: 0,
            known: HashMap::new(),
            accounts: HashMap::new(),
            forgotten: 0,
            txs_max,
            bytes_max,
        }
    }

    /// The nonce an account's next transaction must carry, given its committed nonce.
    pub fn next_nonce(&self, address: &Address, committed: u64) -> u64 {
        self.accounts
            .get(address)
            .map_or(committed, |a| a.next_nonce)
    }

    /// Whether the pool holds transactions of this account (queued or being committed): then
    /// [`Mempool::admit`] does not need its committed nonce.
    pub fn holds_account(&self, address: &Address) -> bool {
        self.accounts.contains_key(address)
    }

    /// Counts the account entries dropped so far. The store's committed nonce of an account the
    /// pool does not hold can be read without the pool's lock: if this count is unchanged once
    /// the lock is taken again, none of the pool's transactions committed in between and was
    /// forgotten, so the value read is still the account's committed nonce.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Whether the pool knows this transaction (queued or being committed).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains_key(hash)
    }

    /// Admits `tx` if its nonce is the account's next one and there is room. `committed` is the
    /// account's committed nonce (read only when the pool has nothing pending for it).
    pub fn admit(
        &mut self,
        tx: VerifiedTx,
        committed: impl FnOnce() -> u64,
    ) -> Result<(), TxError> {
        if self.known.contains_key(&tx.hash) {
            return Err(TxError::Duplicate(hex::encode(tx.hash)));
        }
        let expected = match self.accounts.get(&tx.signer) {
            Some(a) => a.next_nonce,
            None => committed(),
        };
        if tx.nonce < expected {
            return Err(TxError::StaleNonce {
                expected,
                got: tx.nonce,
            });
        }
        if tx.nonce > expected {
            return Err(TxError::NonceGap {
                expected,
                got: tx.nonce,
            });
        }
        if self.queue.len() >= self.txs_max {
            return Err(TxError::MempoolFull("transaction count"));
        }
        if self.bytes + tx.size() > self.bytes_max {
            return Err(TxError::MempoolFull("bytes"));
        }
        let account = self.accounts.entry(tx.signer).or_insert(Account {
            next_nonce: expected,
            outstanding: 0,
        });
        account.next_nonce = expected + 1;
        account.outstanding += 1;
        self.bytes += tx.size();
        self.known.insert(tx.hash, true);
        self.queue.push_back(tx);
        Ok(())
    }

    /// Takes the oldest transactions for a block: at most `txs_max`, and at most `bytes_max`
    /// bytes (but always at least one, so a large transaction cannot block the pool).
    pub fn take(&mut self, txs_max: usize, bytes_max: usize) -> Vec<VerifiedTx> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(tx) = self.queue.front() {
            if out.len() >= txs_max || (!out.is_empty() && bytes + tx.size() > bytes_max) {
                break;
            }
            bytes += tx.size();
            if let Some(tx) = self.queue.pop_front() {
                self.bytes -= tx.size();
                if let Some(queued) = self.known.get_mut(&tx.hash) {
                    *queued = false;
                }
                out.push(tx);
            }
        }
        out
    }

    /// Forgets transactions whose block is committed (their nonces are now in the store),
    /// including any still queued here, which a block proposed elsewhere committed first.
    pub fn committed(&mut self, txs: &[VerifiedTx]) {
        let mut still_queued = HashSet::new();
        for tx in txs {
            match self.known.remove(&tx.hash) {
                Some(true) => {
                    still_queued.insert(tx.hash);
                }
                Some(false) => {}
                // Not admitted here (a block another member proposed): nothing to forget.
                None => continue,
            }
            if let Some(a) = self.accounts.get_mut(&tx.signer) {
                a.outstanding = a.outstanding.saturating_sub(1);
                if a.outstanding == 0 {
                    self.accounts.remove(&tx.signer);
                    self.forgotten += 1;
                }
            }
        }
        if !still_queued.is_empty() {
            let mut bytes = self.bytes;
            self.queue.retain(|q| {
                let keep = !still_queued.contains(&q.hash);
                if !keep {
                    bytes -= q.size();
                }
                keep
            });
            self.bytes = bytes;
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tx::{Action, KeyCache, payload_json, sign, verify_envelope};
    use k256::ecdsa::SigningKey;

    fn tx(seed: u8, nonce: u64, pad: usize) -> VerifiedTx {
        let key = SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
        let signer = crate::chain::tx::address_of_signing_key(&key);
        let msg = serde_json::value::to_raw_value(&serde_json::json!({ "pad": "x".repeat(pad) }))
            .unwrap();
        let action = Action::Execute {
            contract: hex::encode([9u8; 20]),
            msg,
        };
        verify_envelope(
            sign(&payload_json("c", &signer, nonce, None, &action), &key),
            "c",
            &KeyCache::default(),
        )
        .unwrap()
    }

    #[test]
    fn an_account_is_held_until_its_last_transaction_commits_and_then_counted_as_forgotten() {
        let mut pool = Mempool::default();
        let (a0, b0, a1) = (tx(1, 0, 0), tx(2, 0, 0), tx(1, 1, 0));
        let (a, b) = (a0.signer, b0.signer);
        assert!(!pool.holds_account(&a));
        pool.admit(a0, || 0).unwrap();
        pool.admit(b0, || 0).unwrap();
        pool.admit(a1, || unreachable!("the pool holds the account"))
            .unwrap();
        assert!(pool.holds_account(&a) && pool.holds_account(&b));
        let block = pool.take(2, usize::MAX);
        pool.committed(&block);
        // a1 is still outstanding, so `a` is held; `b` had one transaction and is forgotten.
        assert!(pool.holds_account(&a) && !pool.holds_account(&b));
        assert_eq!(pool.forgotten(), 1);
        let block = pool.take(10, usize::MAX);
        pool.committed(&block);
        assert!(!pool.holds_account(&a) && !pool.holds_account(&b));
        assert_eq!(pool.forgotten(), 2);
        // Forgetting a transaction the pool never admitted changes nothing.
        pool.committed(&[tx(3, 0, 0)]);
        assert_eq!(pool.forgotten(), 2);
    }

    #[test]
    fn admits_only_the_next_nonce_and_refuses_duplicates() {
        let mut pool = Mempool::default();
        assert_eq!(
            pool.admit(tx(1, 1, 0), || 0),
            Err(TxError::NonceGap {
                expected: 0,
                got: 1
            })
        );
        pool.admit(tx(1, 0, 0), || 0).unwrap();
        assert!(matches!(
            pool.admit(tx(1, 0, 0), || 0),
            Err(TxError::Duplicate(_))
        ));
        // A different transaction with the same nonce is stale: nonce 0 is taken.
        assert_eq!(
            pool.admit(tx(1, 0, 5), || 0),
            Err(TxError::StaleNonce {
                expected: 1,
                got: 0
            })
        );
        pool.admit(tx(1, 1, 0), || unreachable!("the pool knows this account"))
            .unwrap();
        // Another account starts from its committed nonce.
        assert_eq!(
            pool.admit(tx(2, 0, 0), || 7),
            Err(TxError::StaleNonce {
                expected: 7,
                got: 0
            })
        );
        pool.admit(tx(2, 7, 0), || 7).unwrap();
        assert_eq!(pool.next_nonce(&tx(1, 0, 0).signer, 0), 2);
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn is_bounded_in_count_and_bytes() {
        let mut pool = Mempool::with_limits(2, usize::MAX);
        pool.admit(tx(1, 0, 0), || 0).unwrap();
        pool.admit(tx(1, 1, 0), || 0).unwrap();
        assert_eq!(
            pool.admit(tx(1, 2, 0), || 0),
            Err(TxError::MempoolFull("transaction count"))
        );
        let one = tx(1, 0, 0).size();
        let mut pool = Mempool::with_limits(100, one * 2 + 10);
        pool.admit(tx(1, 0, 0), || 0).unwrap();
        assert_eq!(
            pool.admit(tx(1, 1, 500), || 0),
            Err(TxError::MempoolFull("bytes"))
        );
        // A refusal does not consume the nonce.
        pool.admit(tx(1, 1, 0), || 0).unwrap();
    }

    #[test]
    fn takes_oldest_first_within_bounds_and_forgets_committed() {
        let mut pool = Mempool::default();
        for n in 0..5 {
            pool.admit(tx(1, n, 0), || 0).unwrap();
        }
        let size = tx(1, 0, 0).size();
        let first = pool.take(3, usize::MAX);
        assert_eq!(first.iter().map(|t| t.nonce).collect::<Vec<_>>(), [0, 1, 2]);
        let second = pool.take(10, size + 1);
        assert_eq!(second.len(), 1, "the byte bound cuts the block");
        // Taken but not committed: the account's next nonce still counts them.
        assert_eq!(pool.next_nonce(&first[0].signer, 0), 5);
        pool.committed(&first);
        pool.committed(&second);
        assert!(!pool.contains(&first[0].hash));
        assert_eq!(pool.next_nonce(&first[0].signer, 4), 5);
        let rest = pool.take(10, usize::MAX);
        pool.committed(&rest);
        // Nothing outstanding: the account is forgotten and its committed nonce rules.
        assert_eq!(pool.next_nonce(&first[0].signer, 5), 5);
        assert!(pool.is_empty() && pool.bytes() == 0);
    }

    /// A cluster member that has just become leader can admit a client's retry of a
    /// transaction that the old leader's block, still unapplied in its Raft log, also holds.
    /// Applying that block must take the transaction out of the queue: proposed again, it
    /// would be in the chain twice, and a node verifying the chain would refuse it (the likely
    /// cause of a CI failure of the cluster test after a leader was killed).
    #[test]
    fn a_queued_transaction_committed_by_another_block_is_never_taken() {
        let mut pool = Mempool::default();
        let (t0, t1, t2) = (tx(1, 0, 0), tx(1, 1, 0), tx(2, 0, 0));
        pool.admit(t0.clone(), || 0).unwrap();
        pool.admit(t1.clone(), || 0).unwrap();
        pool.admit(t2.clone(), || 0).unwrap();
        // Another member's block commits t0 and t1 before this pool handed them out, and a
        // transaction this pool never saw.
        pool.committed(&[t0.clone(), t1.clone(), tx(3, 0, 0)]);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.bytes(), t2.size());
        assert!(!pool.contains(&t0.hash) && !pool.contains(&t1.hash));
        // The account's nonces now come from the store, which has t0 and t1.
        assert_eq!(pool.next_nonce(&t0.signer, 2), 2);
        let block = pool.take(10, usize::MAX);
        assert_eq!(
            block.iter().map(|t| t.hash).collect::<Vec<_>>(),
            [t2.hash],
            "only the transaction no block committed yet"
        );
        // Taken, then committed as usual: nothing left, and a retry of t0 is no longer known
        // to the pool (the store refuses it: its nonce is spent).
        pool.committed(&block);
        assert!(pool.is_empty() && pool.bytes() == 0);
        assert_eq!(
            pool.admit(t0, || 2),
            Err(TxError::StaleNonce {
                expected: 2,
                got: 0
            })
        );
    }
}
