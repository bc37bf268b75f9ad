//! The Vellum node: transactions, mempool, block pipeline, redb store and verification.

pub mod api;
pub mod chain;
pub mod client;
pub mod cluster;
pub mod config;
pub mod execute;
pub mod failpoints;
pub mod histogram;
pub mod journal;
pub mod ledger;
pub mod limits;
pub mod mempool;
pub mod procstat;
pub mod store;
pub mod verify;
