//! The one error type of the HTTP layer and the SPEC.md section 4 body it renders to.
//!
//! Every 4xx and 5xx the node answers carries `{"error": {"code", "message"}}`: handlers return
//! [`ApiError`], axum's own rejections are converted by the `From` impls below, and anything
//! else that escapes as a bare status (a body-limit layer, a panic guard) is rewritten by
//! [`ensure_error_body`]. Internal failures are logged and answered with a generic message, so
//! no store or runtime detail leaks to clients.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::chain::tx::TxError;

/// The SPEC.md section 4 error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `stale_nonce`.
    pub code: String,
    /// Human text saying what to do.
    pub message: String,
}

/// An HTTP error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The status (always 4xx or 5xx).
    pub status: StatusCode,
    /// The snake_case code.
    pub code: &'static str,
    /// The human message.
    pub message: String,
}

impl ApiError {
    /// An error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The body's `error` part, for answers that carry several outcomes (a batch).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.to_string(),
            message: self.message.clone(),
        }
    }

    /// 500 for a fault that is not the client's: logged in full, answered without detail.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error while serving a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the node's log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.detail(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        let status = match &e {
            TxError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TxError::StaleNonce { .. } | TxError::NonceGap { .. } | TxError::Duplicate(_) => {
                StatusCode::CONFLICT
            }
            TxError::MempoolFull(_) | TxError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

/// Keeps a rejection's status when it is a 4xx; anything else becomes 400, because a
/// rejection is always about the request.
fn client_status(status: StatusCode) -> StatusCode {
    if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with the header `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request(
                "malformed_json",
                format!("the body is not JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => Self::bad_request(
                "invalid_body",
                format!(
                    "the body does not have the expected shape: {}",
                    e.body_text()
                ),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "the body is larger than the node accepts ({} bytes)",
                        super::BODY_BYTES_MAX
                    ),
                )
            }
            other => Self::new(
                client_status(other.status()),
                "invalid_body",
                other.body_text(),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(
            client_status(r.status()),
            "invalid_query",
            format!("bad query string: {}", r.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(client_status(r.status()), "invalid_path", r.body_text())
    }
}

/// Middleware: any 4xx/5xx answer that is not JSON yet (a layer's bare status, an extractor
/// we did not wrap) gets the SPEC body, keeping its status and headers. Its text, when it had
/// some, becomes the message.
pub async fn ensure_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A body-limit layer's own text ("length limit exceeded") says less than ours.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty() && status != StatusCode::PAYLOAD_TOO_LARGE);
    let (code, default_message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "this route does not take that method")
        }
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the body is larger than the node accepts (BODY_BYTES_MAX, 3.75 MiB)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send JSON"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::SERVICE_UNAVAILABLE => (
            "unavailable",
            "the node cannot serve this now; retry shortly",
        ),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "the request is invalid"),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: text.unwrap_or_else(|| default_message.into()),
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_statuses_a_client_can_act_on() {
        let cases = [
            (
                TxError::MempoolFull("bytes"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (TxError::ShuttingDown, StatusCode::SERVICE_UNAVAILABLE),
            (TxError::TooLarge(1), StatusCode::PAYLOAD_TOO_LARGE),
            (
                TxError::StaleNonce {
                    expected: 2,
                    got: 1,
                },
                StatusCode::CONFLICT,
            ),
            (
                TxError::NonceGap {
                    expected: 2,
                    got: 5,
                },
                StatusCode::CONFLICT,
            ),
            (TxError::Duplicate("ab".into()), StatusCode::CONFLICT),
            (TxError::HighS, StatusCode::BAD_REQUEST),
            (TxError::Malformed("x".into()), StatusCode::BAD_REQUEST),
        ];
        for (e, status) in cases {
            let code = e.code();
            let api = ApiError::from(e);
            assert_eq!((api.status, api.code), (status, code));
        }
    }

    #[tokio::test]
    async fn bare_statuses_get_the_spec_body() {
        let bare = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let fixed = ensure_error_body(bare).await;
        assert_eq!(fixed.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = axum::body::to_bytes(fixed.into_body(), 4096).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "payload_too_large");
        let ok = ensure_error_body(StatusCode::OK.into_response()).await;
        assert_eq!(ok.status(), StatusCode::OK);
    }
}
