//! The mempool: verified transactions waiting for a block, bounded in count and bytes,
//! deduplicated by hash, and in nonce order per account by construction (a transaction is
//! admitted only with exactly the account's next nonce, counting those already admitted).

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
#[derive(Debug, Default)]
pub struct Mempool {
    queue: VecDeque<VerifiedTx>,
    bytes: usize,
    known: HashSet<Hash>,
    accounts: HashMap<Address, Account>,
}

impl Mempool {
    /// The nonce an account's next transaction must carry, given its committed nonce.
    pub fn next_nonce(&self, address: &Address, committed: u64) -> u64 {
        self.accounts
            .get(address)
            .map_or(committed, |a| a.next_nonce)
    }

    /// Whether the pool knows this transaction (queued or being committed).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains(hash)
    }

    /// Admits `tx` if its nonce is the account's next one and there is room. `committed` is the
    /// account's committed nonce (read only when the pool has nothing pending for it).
    pub fn admit(
        &mut self,
        tx: VerifiedTx,
        committed: impl FnOnce() -> u64,
    ) -> Result<(), TxError> {
        if self.known.contains(&tx.hash) {
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
        if self.queue.len() >= MEMPOOL_TXS_MAX {
            return Err(TxError::MempoolFull("transaction count"));
        }
        if self.bytes + tx.size() > MEMPOOL_BYTES_MAX {
            return Err(TxError::MempoolFull("bytes"));
        }
        let account = self.accounts.entry(tx.signer).or_insert(Account {
            next_nonce: expected,
            outstanding: 0,
        });
        account.next_nonce = expected + 1;
        account.outstanding += 1;
        self.bytes += tx.size();
        self.known.insert(tx.hash);
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
                out.push(tx);
            }
        }
        out
    }

    /// Forgets transactions whose block is committed (their nonces are now in the store).
    pub fn committed(&mut self, txs: &[VerifiedTx]) {
        for tx in txs {
            self.known.remove(&tx.hash);
            if let Some(a) = self.accounts.get_mut(&tx.signer) {
                a.outstanding = a.outstanding.saturating_sub(1);
                if a.outstanding == 0 {
                    self.accounts.remove(&tx.signer);
                }
            }
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
