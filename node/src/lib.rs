//! The Vellum node: transactions, mempool, block pipeline, redb store and verification.

pub mod chain;
pub mod execute;
pub mod ledger;
pub mod limits;
pub mod mempool;
pub mod store;
pub mod verify;
