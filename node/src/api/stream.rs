//! `GET /v1/stream`: committed blocks, and optionally one contract's events, as server-sent
//! events, the moment each block is durable.
//!
//! Every committed block is sent as an SSE event named `block` (its header fields and
//! transaction hashes, the same shape as `GET /v1/blocks/{height}`). With `?contract=ADDR`, each
//! event that contract emitted in the block follows as an SSE event named `event` (the shape of
//! an item of `GET /v1/contracts/{address}/events`), filtered further by `key` and `value` when
//! given, so a client can follow a document's history live: read the past with the events
//! route, then follow the stream.
//!
//! A subscriber that falls more than [`crate::ledger::SUBSCRIBER_BUFFER_BLOCKS`] blocks behind gets an SSE event
//! named `lagged` with the number of blocks it missed (read them with `/v1/blocks/{height}`),
//! and the stream goes on. Streams are bounded by [`super::ApiConfig::streams_max`] (503
//! `overloaded` beyond it), are exempt from the request timeout, send a comment every
//! [`STREAM_KEEPALIVE_MS`] to keep idle connections open, and end when the node shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, broadcast, watch};
use utoipa::{IntoParams, ToSchema};

use super::routes::{BlockView, EventItem, block_view, event_cursor};
use super::{ApiError, ApiState};
use crate::chain::Hash;
use crate::ledger::CommittedBlock;

/// Interval of the keep-alive comment on an idle stream, in ms.
pub const STREAM_KEEPALIVE_MS: u64 = 15_000;
/// Default bound on open streams.
pub const STREAMS_MAX_DEFAULT: usize = 256;

/// Query string of `GET /v1/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Also send this contract's events (hex address).
    #[param(pattern = "^[0-9a-fA-F]{40}$")]
    pub contract: Option<String>,
    /// Only events with this attribute key (needs `contract`).
    pub key: Option<String>,
    /// Only events whose attribute `key` has this value (needs `key`).
    pub value: Option<String>,
}

/// The `lagged` SSE event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Lagged {
    /// Blocks this subscriber missed.
    pub missed_blocks: u64,
}

/// Which events a subscriber wants besides blocks.
#[derive(Debug, Clone)]
struct Filter {
    contract: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

impl Filter {
    fn matches(&self, event: &crate::chain::block::ReceiptEvent) -> bool {
        let Some(contract) = &self.contract else {
            return false;
        };
        if !event.contract.eq_ignore_ascii_case(contract) {
            return false;
        }
        match (&self.key, &self.value) {
            (None, _) => true,
            (Some(k), None) => event.attributes.0.iter().any(|(ek, _)| ek == k),
            (Some(k), Some(v)) => event.attributes.0.iter().any(|(ek, ev)| ek == k && ev == v),
        }
    }
}

fn sse_json(name: &'static str, data: &impl Serialize) -> Event {
    // Serialising these plain structures cannot fail; an empty event would be harmless.
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name))
}

/// The SSE events one committed block turns into.
fn block_events(block: &CommittedBlock, filter: &Filter, out: &mut VecDeque<Event>) {
    let tx_hashes: Vec<Hash> = block
        .receipts
        .iter()
        .filter_map(|r| crate::chain::parse_hex::<32>(&r.tx_hash))
        .collect();
    let view: BlockView = block_view(&block.header, &tx_hashes);
    out.push_back(sse_json("block", &view));
    if filter.contract.is_none() {
        return;
    }
    for receipt in &block.receipts {
        for (event_index, event) in receipt.events.iter().enumerate() {
            if filter.matches(event) {
                let item = EventItem {
                    tx_hash: receipt.tx_hash.clone(),
                    block_height: receipt.block_height,
                    tx_index: receipt.index,
                    event_index: event_index as u16,
                    cursor: event_cursor(receipt.block_height, receipt.index, event_index as u16),
                    event: event.clone(),
                };
                out.push_back(sse_json("event", &item));
            }
        }
    }
}

struct StreamState {
    blocks: broadcast::Receiver<Arc<CommittedBlock>>,
    closing: watch::Receiver<bool>,
    filter: Filter,
    queued: VecDeque<Event>,
    _permit: OwnedSemaphorePermit,
}

fn events(state: StreamState) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(e) = s.queued.pop_front() {
                return Some((Ok(e), s));
            }
            if *s.closing.borrow() {
                return None;
            }
            tokio::select! {
                got = s.blocks.recv() => match got {
                    Ok(block) => block_events(&block, &s.filter, &mut s.queued),
                    Err(broadcast::error::RecvError::Lagged(missed)) => s
                        .queued
                        .push_back(sse_json("lagged", &Lagged { missed_blocks: missed })),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = s.closing.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    })
}

/// Committed blocks (and a contract's events) as server-sent events.
#[utoipa::path(get, path = "/v1/stream", tag = "node",
    params(StreamParams),
    responses(
        (status = 200, description = "`text/event-stream`: events `block` (a Block), `event` (an EventItem, with `?contract=`) and `lagged` (missed_blocks)", content_type = "text/event-stream", body = String),
        (status = 400, body = super::ErrorBody),
        (status = 503, description = "too many open streams, or shutting down", body = super::ErrorBody),
    ))]
pub async fn stream(
    State(state): State<ApiState>,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    if let Some(c) = &params.contract
        && crate::chain::parse_hex::<20>(c).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_address",
            format!("`{c}` is not an address (40 hex characters)"),
        ));
    }
    if params.key.is_some() && params.contract.is_none() {
        return Err(ApiError::bad_request(
            "invalid_filter",
            "`key` filters a contract's events: give `contract` too",
        ));
    }
    if params.value.is_some() && params.key.is_none() {
        return Err(ApiError::bad_request(
            "invalid_filter",
            "`value` filters on an attribute: give `key` too",
        ));
    }
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the node already serves {} streams; retry later",
                state.config.streams_max
            ),
        ));
    };
    let closing = state.closing.subscribe();
    if *closing.borrow() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        ));
    }
    let s = StreamState {
        blocks: state.ledger.subscribe(),
        closing,
        filter: Filter {
            contract: params.contract.map(|c| c.to_ascii_lowercase()),
            key: params.key,
            value: params.value,
        },
        queued: VecDeque::new(),
        _permit: permit,
    };
    Ok(Sse::new(events(s))
        .keep_alive(KeepAlive::new().interval(Duration::from_millis(STREAM_KEEPALIVE_MS)))
        .into_response())
}

/// Whether a request path is the stream (exempt from the request timeout and in-flight bound,
/// which are meant for requests that end).
pub(super) fn is_stream(path: &str) -> bool {
    path == "/v1/stream"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::block::{Attributes, ReceiptEvent};

    fn event(contract: &str, attrs: &[(&str, &str)]) -> ReceiptEvent {
        ReceiptEvent {
            contract: contract.into(),
            ty: "register".into(),
            attributes: Attributes(
                attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn filters_by_contract_key_and_value() {
        let c = "ab".repeat(20);
        let other = "cd".repeat(20);
        let e = event(&c, &[("document_id", "d1"), ("actor", "x")]);
        let f = |contract: Option<&str>, key: Option<&str>, value: Option<&str>| Filter {
            contract: contract.map(str::to_string),
            key: key.map(str::to_string),
            value: value.map(str::to_string),
        };
        assert!(!f(None, None, None).matches(&e), "no contract: blocks only");
        assert!(f(Some(&c), None, None).matches(&e));
        assert!(!f(Some(&other), None, None).matches(&e));
        assert!(f(Some(&c), Some("document_id"), None).matches(&e));
        assert!(!f(Some(&c), Some("grantee"), None).matches(&e));
        assert!(f(Some(&c), Some("document_id"), Some("d1")).matches(&e));
        assert!(!f(Some(&c), Some("document_id"), Some("d2")).matches(&e));
        assert!(!f(Some(&c), Some("actor"), Some("d1")).matches(&e));
    }
}
