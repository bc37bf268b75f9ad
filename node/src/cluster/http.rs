//! The cluster's HTTP side, on the node's one port:
//!
//! - `/internal/raft/{append,vote,snapshot}`: Raft messages from other members;
//! - `/internal/cluster/{init,learner,promote,remove}`: administration (`vellum cluster`);
//! - forwarding: `POST /v1/transactions` on a node that is not the leader is sent on to the
//!   leader, and the leader's answer (202, or 200 with the receipt for `?wait=true`, or its
//!   error) is returned as is.
//!
//! Every `/internal/` request must carry the cluster secret in [`SECRET_HEADER`]; without it
//! the answer is 401 and nothing runs. The secret is the members' only credential: keep the
//! port on a private network or behind TLS (docs/cluster.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use super::{Cluster, NodeId, TypeConfig};
use crate::api::{ApiError, BODY_BYTES_MAX};

/// The header carrying the cluster secret.
pub const SECRET_HEADER: &str = "x-vellum-cluster-secret";
/// Set on a transaction a member forwarded, so that it is never forwarded twice.
pub const FORWARDED_HEADER: &str = "x-vellum-forwarded";
/// Largest Raft message body (a few blocks of entries, or a snapshot chunk as JSON).
const RAFT_BODY_MAX: usize = 256 << 20;
/// How long a forwarded submission may take (above `?wait=true`'s own limit).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a submission waits for a leader to be known during an election.
const LEADER_WAIT: Duration = Duration::from_secs(5);

/// `POST /internal/cluster/init`.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitRequest {
    /// Every first member: id → base URL.
    pub members: BTreeMap<NodeId, String>,
}

/// `POST /internal/cluster/learner`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LearnerRequest {
    /// The new member's id.
    pub id: NodeId,
    /// Its base URL.
    pub addr: String,
}

/// `POST /internal/cluster/promote` and `/internal/cluster/remove`.
#[derive(Debug, Serialize, Deserialize)]
pub struct MembersRequest {
    /// Member ids.
    pub ids: BTreeSet<NodeId>,
}

/// `app` with the cluster's routes and the forwarding of transactions to the leader.
pub fn wrap(app: Router, cluster: Arc<Cluster>) -> Router {
    let internal = Router::new()
        .route("/internal/raft/append", post(append))
        .route("/internal/raft/vote", post(vote))
        .route("/internal/raft/snapshot", post(snapshot))
        .route("/internal/cluster/init", post(init))
        .route("/internal/cluster/learner", post(learner))
        .route("/internal/cluster/promote", post(promote))
        .route("/internal/cluster/remove", post(remove))
        .layer(DefaultBodyLimit::max(RAFT_BODY_MAX))
        .route_layer(middleware::from_fn_with_state(
            cluster.clone(),
            authenticate,
        ))
        .with_state(cluster.clone());
    internal
        .merge(app)
        .layer(middleware::from_fn_with_state(cluster, forward))
}

async fn authenticate(
    State(cluster): State<Arc<Cluster>>,
    request: Request,
    next: Next,
) -> Response {
    let ok = request
        .headers()
        .get(SECRET_HEADER)
        .is_some_and(|v| cluster.authorised(v.as_bytes()));
    if !ok {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            format!("cluster routes need the cluster secret in {SECRET_HEADER}"),
        )
        .into_response();
    }
    next.run(request).await
}

async fn append(
    State(c): State<Arc<Cluster>>,
    Json(rpc): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>> {
    Json(c.raft.append_entries(rpc).await)
}

async fn vote(
    State(c): State<Arc<Cluster>>,
    Json(rpc): Json<VoteRequest<NodeId>>,
) -> Json<Result<VoteResponse<NodeId>, RaftError<NodeId>>> {
    Json(c.raft.vote(rpc).await)
}

async fn snapshot(
    State(c): State<Arc<Cluster>>,
    Json(rpc): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>> {
    Json(c.raft.install_snapshot(rpc).await)
}

fn admin_error(e: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "cluster_change_refused", e)
}

async fn init(
    State(c): State<Arc<Cluster>>,
    Json(r): Json<InitRequest>,
) -> Result<Json<super::ClusterStatus>, ApiError> {
    c.init(r.members).await.map_err(admin_error)?;
    Ok(Json(c.status()))
}

async fn learner(
    State(c): State<Arc<Cluster>>,
    Json(r): Json<LearnerRequest>,
) -> Result<Json<super::ClusterStatus>, ApiError> {
    c.add_learner(r.id, r.addr).await.map_err(admin_error)?;
    Ok(Json(c.status()))
}

async fn promote(
    State(c): State<Arc<Cluster>>,
    Json(r): Json<MembersRequest>,
) -> Result<Json<super::ClusterStatus>, ApiError> {
    c.promote(r.ids).await.map_err(admin_error)?;
    Ok(Json(c.status()))
}

async fn remove(
    State(c): State<Arc<Cluster>>,
    Json(r): Json<MembersRequest>,
) -> Result<Json<super::ClusterStatus>, ApiError> {
    c.remove(r.ids).await.map_err(admin_error)?;
    Ok(Json(c.status()))
}

/// Sends `POST /v1/transactions` and `POST /v1/transactions/batch` on to the leader when this
/// node is not it.
async fn forward(State(cluster): State<Arc<Cluster>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() != Method::POST
        || (path != "/v1/transactions" && path != "/v1/transactions/batch")
    {
        return next.run(request).await;
    }
    let path = path.to_string();
    let started = tokio::time::Instant::now();
    let leader = loop {
        if cluster.is_leader() {
            return next.run(request).await;
        }
        if let Some(l) = cluster.leader() {
            break l;
        }
        if started.elapsed() > LEADER_WAIT {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_leader",
                "the cluster has no leader at the moment (an election is under way, or a \
                 majority of members is unreachable); retry shortly",
            )
            .into_response();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if request.headers().contains_key(FORWARDED_HEADER) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_leader",
            "this node is no longer the leader; retry shortly",
        )
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {BODY_BYTES_MAX} bytes"),
            )
            .into_response();
        }
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}{path}{query}", leader.1.trim_end_matches('/'));
    let mut out = cluster
        .http()
        .post(&url)
        .timeout(FORWARD_TIMEOUT)
        .header(FORWARDED_HEADER, cluster.id.to_string())
        .body(bytes);
    if let Some(ct) = parts.headers.get(axum::http::header::CONTENT_TYPE) {
        out = out.header(axum::http::header::CONTENT_TYPE, ct.clone());
    }
    match out.send().await {
        Ok(response) => {
            let status = response.status();
            let content_type = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .cloned();
            match response.bytes().await {
                Ok(body) => {
                    let mut r = Response::new(Body::from(body));
                    *r.status_mut() = status;
                    r.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        content_type.unwrap_or(HeaderValue::from_static("application/json")),
                    );
                    r
                }
                Err(e) => leader_unreachable(&leader.1, e),
            }
        }
        Err(e) => leader_unreachable(&leader.1, e),
    }
}

fn leader_unreachable(addr: &str, e: reqwest::Error) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "leader_unreachable",
        format!("forwarding to the leader at {addr} failed: {e}; retry shortly"),
    )
    .into_response()
}
