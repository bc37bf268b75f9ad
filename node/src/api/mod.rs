//! The HTTP API of SPEC.md sections 2 to 4: the only part of the node that knows HTTP and the
//! wire's JSON shapes. Handlers translate between that JSON and [`Ledger`] calls.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use vellum_node::api::{ApiConfig, ApiState, app};
//! use vellum_node::ledger::{Ledger, LedgerConfig};
//! let ledger = Arc::new(Ledger::open(LedgerConfig::new("./vellum-data", "vellum-dev")).unwrap());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app(ApiState::new(ledger, ApiConfig::default()))).await
//! # }
//! ```
//!
//! **Protection.** Bodies are limited to [`BODY_BYTES_MAX`] (413), requests in flight to
//! [`ApiConfig::in_flight_max`] (503 `overloaded` beyond it, at once, rather than queueing),
//! every request to [`ApiConfig::request_timeout_ms`] (503 `timeout`), and CPU-bound or blocking
//! work (large envelopes' checks, deploys' compilation, contract queries, store reads) runs on
//! tokio's blocking pool behind a semaphore of [`ApiConfig::blocking_tasks_max`] permits, so the
//! async workers never stall. The signature check of a small envelope
//! ([`INLINE_VERIFY_PAYLOAD_BYTES_MAX`]) runs on the async worker itself: at about 55 us it is
//! cheaper than the hop to the pool and back, and the workers (one per core) bound it.
//! [`serve`] adds the connection-level bounds: open connections ([`ApiConfig::connections_max`])
//! and the time to send a request's headers ([`ApiConfig::header_read_timeout_ms`]).

pub mod error;
pub mod routes;
pub mod stream;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Semaphore, watch};

pub use error::{ApiError, ErrorBody, ErrorDetail};

use crate::ledger::Ledger;
use crate::limits::TX_BYTES_MAX;

/// Largest request body, in bytes: [`TX_BYTES_MAX`] plus a quarter for the JSON escaping of
/// the payload string inside the envelope. The envelope's decoded size is then checked against
/// [`TX_BYTES_MAX`] itself.
pub const BODY_BYTES_MAX: usize = TX_BYTES_MAX + TX_BYTES_MAX / 4;
/// Envelopes whose payload is at most this many bytes are verified on the async worker that
/// received them (one signature check, about 55 us); larger ones, and every deploy's
/// compilation, go to the blocking pool.
pub const INLINE_VERIFY_PAYLOAD_BYTES_MAX: usize = 4096;
/// Default bound on requests being served at once. Sized by Little's law for the disk this
/// runs on: `?wait=true` requests stay in flight until their block is durable, and on these
/// VMs an `fdatasync` now and then takes 0.1 to 0.4 s (two per commit), so at a sustained
/// 4,000 tx/s a stall of one second holds about 4,000 requests. At 1,024 the node shed
/// requests at half its maximum rate during such stalls (the load soak, docs/security.md).
pub const IN_FLIGHT_MAX_DEFAULT: usize = 4096;
/// Default time a request may take, in ms (above [`WAIT_TIMEOUT_MS_DEFAULT`]).
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Default time `?wait=true` waits for a commit, in ms.
pub const WAIT_TIMEOUT_MS_DEFAULT: u64 = 20_000;
/// Default time a connection has to send a request's headers, in ms, counted from when it is
/// ready for a request (so it is also how long an idle keep-alive connection stays open).
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default bound on open connections. Each costs a file descriptor; `vellum node` lowers the
/// bound to fit the process's descriptor limit (see `main.rs`).
pub const CONNECTIONS_MAX_DEFAULT: usize = 10_000;
/// Largest `connections_max` accepted (the semaphore counts in `u32`).
pub const CONNECTIONS_MAX_LIMIT: usize = 1 << 20;
/// Pause after an `accept` failure that is not about one connection (e.g. out of file
/// descriptors), in ms.
pub const ACCEPT_ERROR_PAUSE_MS: u64 = 100;
/// Most events one page of `/v1/contracts/{address}/events` returns.
pub const EVENTS_PAGE_MAX: usize = 1000;
/// Events per page when `limit` is not given.
pub const EVENTS_PAGE_DEFAULT: usize = 100;

/// How the API protects itself.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Most requests served at once; more are refused with 503 `overloaded`.
    pub in_flight_max: usize,
    /// Longest a request may take, in ms.
    pub request_timeout_ms: u64,
    /// Longest `?wait=true` waits for the commit, in ms.
    pub wait_timeout_ms: u64,
    /// Most CPU-bound or blocking tasks (signature checks, queries, store reads) at once.
    pub blocking_tasks_max: usize,
    /// Most `GET /v1/stream` subscribers at once; more are refused with 503 `overloaded`.
    pub streams_max: usize,
    /// Longest a connection may take to send a request's headers, in ms; also how long an idle
    /// keep-alive connection stays open. Closed without an answer beyond it.
    pub header_read_timeout_ms: u64,
    /// Most connections open at once; beyond it the node stops accepting until one closes.
    pub connections_max: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            in_flight_max: IN_FLIGHT_MAX_DEFAULT,
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            wait_timeout_ms: WAIT_TIMEOUT_MS_DEFAULT,
            // Twice the cores: a permit is also held by short store reads, which should not
            // queue behind a deploy's compilation.
            blocking_tasks_max: cores * 2,
            streams_max: stream::STREAMS_MAX_DEFAULT,
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
        }
    }
}

/// Counters the API keeps for `/metrics` (the ledger keeps its own).
#[derive(Debug, Default)]
pub struct ApiMetrics {
    /// Transactions admitted to the mempool.
    pub txs_admitted: AtomicU64,
    /// Transactions refused at submission, by error code.
    pub txs_refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests refused because too many were in flight.
    pub requests_shed: AtomicU64,
    /// Requests that hit the timeout.
    pub requests_timed_out: AtomicU64,
}

impl ApiMetrics {
    fn refused(&self, code: &'static str) {
        let mut m = self.txs_refused.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(code).or_default() += 1;
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// The configuration.
    pub config: Arc<ApiConfig>,
    /// Counters.
    pub metrics: Arc<ApiMetrics>,
    /// The cluster this node is a member of, if it is replicated (docs/cluster.md).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    in_flight: Arc<Semaphore>,
    blocking: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    /// Flips to `true` when the node starts shutting down, which ends every stream.
    closing: Arc<watch::Sender<bool>>,
}

impl ApiState {
    /// State over a ledger.
    pub fn new(ledger: Arc<Ledger>, config: ApiConfig) -> Self {
        Self {
            ledger,
            in_flight: Arc::new(Semaphore::new(config.in_flight_max.max(1))),
            blocking: Arc::new(Semaphore::new(config.blocking_tasks_max.max(1))),
            streams: Arc::new(Semaphore::new(config.streams_max.max(1))),
            closing: Arc::new(watch::Sender::new(false)),
            config: Arc::new(config),
            metrics: Arc::default(),
            cluster: None,
        }
    }

    /// The same state on a cluster member: `/v1/status` shows the cluster, the cluster's
    /// routes are served and transactions are forwarded to the leader.
    pub fn with_cluster(mut self, cluster: Arc<crate::cluster::Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Ends every `GET /v1/stream` and refuses new ones: the first step of a shutdown, since
    /// streams never end by themselves.
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Runs CPU-bound or blocking work on the blocking pool, at most
    /// [`ApiConfig::blocking_tasks_max`] at once. The permit travels with the work, so a
    /// request that is dropped (timeout, client gone) still holds it until the work ends.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.blocking.clone().acquire_owned().await.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the node is shutting down",
            )
        })?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// The router: every route of SPEC.md sections 2 to 4, plus `/v1/health`, `/metrics`, the
/// events index and `/v1/openapi.json`, with the protections described in the module docs.
pub fn app(state: ApiState) -> Router {
    let cluster = state.cluster.clone();
    let router = Router::new()
        .route("/v1/transactions", post(routes::submit_transaction))
        .route("/v1/transactions/batch", post(routes::submit_batch))
        .route("/v1/transactions/{hash}", get(routes::get_transaction))
        .route("/v1/contracts/{address}", get(routes::get_contract))
        .route(
            "/v1/contracts/{address}/query",
            post(routes::query_contract),
        )
        .route(
            "/v1/contracts/{address}/events",
            get(routes::contract_events),
        )
        .route("/v1/accounts/{address}", get(routes::get_account))
        .route("/v1/blocks/latest", get(routes::latest_block))
        .route("/v1/blocks/{height}", get(routes::get_block))
        .route("/v1/status", get(routes::status))
        .route("/v1/health", get(routes::health))
        .route("/v1/openapi.json", get(routes::openapi))
        .route("/metrics", get(routes::metrics))
        .route("/v1/stream", get(stream::stream))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            BODY_BYTES_MAX,
        ))
        .layer(middleware::map_response(error::ensure_error_body))
        .layer(middleware::from_fn_with_state(state.clone(), min_height))
        .with_state(state);
    match cluster {
        Some(c) => crate::cluster::http::wrap(router, c),
        None => router,
    }
}

/// Header alternative to the `min_height` query parameter.
pub const MIN_HEIGHT_HEADER: &str = "x-vellum-min-height";
/// How long a read with a minimum height waits for the node to reach it.
const MIN_HEIGHT_WAIT: Duration = Duration::from_secs(10);

/// Read-your-writes: a request with `?min_height=N` (or the `x-vellum-min-height` header) is
/// served only once this node has committed block N, waiting up to 10 s for it (then 503
/// `behind`). On one node it rarely waits; on a cluster member it lets a client read, at any
/// node, what it wrote through another.
async fn min_height(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let from_query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("min_height="))
            .map(str::to_string)
    });
    let from_header = request
        .headers()
        .get(MIN_HEIGHT_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(raw) = from_query.or(from_header) else {
        return next.run(request).await;
    };
    let Ok(wanted) = raw.parse::<u64>() else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_min_height",
            format!("min_height must be a block height (an unsigned integer), not `{raw}`"),
        )
        .into_response();
    };
    let mut blocks = state.ledger.subscribe();
    let deadline = tokio::time::Instant::now() + MIN_HEIGHT_WAIT;
    while state.ledger.tip().0.height < wanted {
        match tokio::time::timeout_at(deadline, blocks.recv()).await {
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) | Err(_) => {
                if state.ledger.tip().0.height >= wanted {
                    break;
                }
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "behind",
                    format!(
                        "this node is at block {} and did not reach block {wanted} in time",
                        state.ledger.tip().0.height
                    ),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// What a diverged node still answers: its health, status and metrics (which say why it
/// stopped) and the API description. Everything about its chain is refused.
fn serves_when_diverged(path: &str) -> bool {
    matches!(
        path,
        "/v1/health" | "/v1/status" | "/metrics" | "/v1/openapi.json"
    )
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!("no route {}; GET /v1/openapi.json lists them", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

/// Bounds the requests in flight (refusing, not queueing, beyond the bound) and the time each
/// may take.
async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if state.ledger.diverged() && !serves_when_diverged(request.uri().path()) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "diverged",
            format!(
                "this node's chain diverged from the cluster's and it has stopped ({}); \
                 read from another member, and rebuild this one from a snapshot",
                state.ledger.halted().unwrap_or_default()
            ),
        )
        .into_response();
    }
    if stream::is_stream(request.uri().path()) {
        // Long-lived by design: bounded by its own semaphore and ended at shutdown instead.
        return next.run(request).await;
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        state.metrics.requests_shed.fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the node is already serving {} requests; retry shortly",
                state.config.in_flight_max
            ),
        )
        .into_response();
    };
    let timeout = Duration::from_millis(state.config.request_timeout_ms);
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            state
                .metrics
                .requests_timed_out
                .fetch_add(1, Ordering::Relaxed);
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request took longer than {} ms",
                    state.config.request_timeout_ms
                ),
            )
            .into_response()
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and lets the
/// requests in flight finish.
///
/// This is `axum::serve` with the two bounds it does not offer: at most
/// [`ApiConfig::connections_max`] connections are open at once (beyond it the listener stops
/// accepting, so new connections wait in the kernel's backlog rather than costing a file
/// descriptor and a task each), and a connection must deliver each request's headers within
/// [`ApiConfig::header_read_timeout_ms`], counted from when the connection is ready for its next
/// request, so a client that connects and sends nothing, or sends its headers a byte at a time
/// (slowloris), is closed at that deadline instead of holding its slot forever. The body of a
/// request is bounded by the request timeout of [`guard`]. Only HTTP/1.1 is served.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let connections_max = state.config.connections_max.clamp(1, CONNECTIONS_MAX_LIMIT);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(
            state.config.header_read_timeout_ms.max(1),
        ))
        .keep_alive(true);
    let closing = state.clone();
    let router = app(state);
    let slots = Arc::new(Semaphore::new(connections_max));
    // `true` once the node stops: every connection then finishes its request and closes.
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers should not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let http = http.clone();
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = stopping.changed() => {}
            }
            connection.as_mut().graceful_shutdown();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error while stopping");
            }
        });
    }
    drop(listener);
    // Streams never end by themselves: end them, or the graceful shutdown waits forever.
    closing.close_streams();
    let _ = stopping_tx.send(true);
    // Every connection task holds a slot until it ends: having them all back means every
    // request in flight has been answered.
    let _all = slots.acquire_many(connections_max as u32).await;
    Ok(())
}

/// What to do when `accept` fails. Errors about one connection (reset before it was accepted)
/// are skipped; anything else (out of file descriptors, out of memory) is logged and followed
/// by a pause, so the loop does not spin while the connections already open keep being served.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; pausing the listener for 100 ms");
    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
}
