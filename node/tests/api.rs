//! The HTTP API without a socket (`tower::ServiceExt::oneshot` on the router): every route's
//! shape as SPEC.md sections 2 to 4 state it, and a table of bad inputs that must each be a 4xx
//! with the SPEC error body, never a 5xx. Also the protections: in-flight bound and timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use vellum_node::api::{ApiConfig, ApiState, BODY_BYTES_MAX, app};
use vellum_node::chain::tx::{Action, Envelope, payload_json, sign};
use vellum_node::ledger::{Ledger, LedgerConfig};

const DOC: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct Api {
    app: Router,
    ledger: Arc<Ledger>,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new(config: ApiConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap());
        Self {
            app: app(ApiState::new(ledger.clone(), config)),
            ledger,
            _dir: dir,
        }
    }

    async fn raw(&self, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, content_type, body.to_vec())
    }

    /// A request with an optional JSON body; the answer parsed as JSON.
    async fn call(&self, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let builder = Request::builder().method(method).uri(uri);
        let request = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(b).unwrap())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let (status, content_type, body) = self.raw(request).await;
        assert!(
            content_type.starts_with("application/json"),
            "{method} {uri}: content type {content_type}"
        );
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn submit_wait(&self, envelope: &Envelope) -> Value {
        let (status, receipt) = self
            .call(
                "POST",
                "/v1/transactions?wait=true",
                Some(&serde_json::to_value(envelope).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
        receipt
    }
}

fn assert_spec_error(status: StatusCode, body: &Value, code: &str, what: &str) {
    assert!(status.is_client_error(), "{what}: status {status}, {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{what}: {body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{what}: {body}");
}

/// Deploys and instantiates custody through the API; returns its address.
async fn setup_custody(api: &Api, alice: &k256::ecdsa::SigningKey) -> String {
    let receipt = api
        .submit_wait(&signed(alice, 0, deploy(&custody_wasm())))
        .await;
    assert_eq!(receipt["success"], true, "{receipt}");
    let code_hash = receipt["output"]["code_hash"].as_str().unwrap().to_string();
    assert_eq!(code_hash.len(), 64);
    let instantiate = Action::Instantiate {
        code_hash,
        msg: raw(json!({})),
        label: "custody".into(),
    };
    let receipt = api.submit_wait(&signed(alice, 1, instantiate)).await;
    assert_eq!(receipt["success"], true, "{receipt}");
    receipt["output"]["contract"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_with_the_spec_shape() {
    let api = Api::new(ApiConfig::default());
    let (alice, bob) = (key("alice"), key("bob"));
    let alice_addr = hex::encode(addr(&alice));

    let (status, health) = api.call("GET", "/v1/health", None).await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
    let (status, genesis) = api.call("GET", "/v1/blocks/0", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(genesis["height"], 0);
    assert_eq!(genesis["prev_hash"], "0".repeat(64));

    let custody = setup_custody(&api, &alice).await;

    // 202 at admission, then pending or committed, then committed with the receipt.
    let register = signed(
        &alice,
        2,
        execute(
            &vellum_node::chain::parse_hex(&custody).unwrap(),
            json!({"register": {"document_id": "d1", "sha256": DOC}}),
        ),
    );
    let (status, submitted) = api
        .call(
            "POST",
            "/v1/transactions",
            Some(&serde_json::to_value(&register).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted}");
    let tx_hash = submitted["tx_hash"].as_str().unwrap().to_string();
    assert_eq!(
        tx_hash,
        hex::encode(vellum_node::chain::sha256(&[register.payload.as_bytes()]))
    );
    let receipt = loop {
        let (status, tx) = api
            .call("GET", &format!("/v1/transactions/{tx_hash}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{tx}");
        assert_eq!(tx["tx_hash"], tx_hash);
        match tx["status"].as_str().unwrap() {
            "pending" => {
                assert!(tx.get("receipt").is_none());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            "committed" => break tx["receipt"].clone(),
            other => panic!("status {other}"),
        }
    };
    for field in [
        "tx_hash",
        "block_height",
        "success",
        "error",
        "fuel_used",
        "events",
        "output",
    ] {
        assert!(
            receipt.get(field).is_some(),
            "receipt lacks {field}: {receipt}"
        );
    }
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["error"], Value::Null);
    assert_eq!(receipt["events"][0]["type"], "register");
    assert_eq!(receipt["events"][0]["contract"], custody);
    assert_eq!(receipt["events"][0]["attributes"]["document_id"], "d1");

    // A denied access by bob: committed successfully, answers granted: false.
    let denied = api
        .submit_wait(&signed(
            &bob,
            0,
            execute(
                &vellum_node::chain::parse_hex(&custody).unwrap(),
                json!({"access": {"document_id": "d1", "purpose": "audit"}}),
            ),
        ))
        .await;
    assert_eq!(denied["output"], json!({"granted": false}));

    let (status, contract) = api
        .call("GET", &format!("/v1/contracts/{custody}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(contract["address"], custody);
    assert_eq!(contract["creator"], alice_addr);
    assert_eq!(contract["label"], "custody");
    assert_eq!(contract["code_hash"].as_str().unwrap().len(), 64);

    let (status, doc) = api
        .call(
            "POST",
            &format!("/v1/contracts/{custody}/query"),
            Some(&json!({"document": {"document_id": "d1"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["custodian"], alice_addr);
    assert_eq!(doc["version"], 1);
    let (status, err) = api
        .call(
            "POST",
            &format!("/v1/contracts/{custody}/query"),
            Some(&json!({"document": {"document_id": "nope"}})),
        )
        .await;
    assert_spec_error(status, &err, "contract_error", "unknown document");

    let (status, account) = api
        .call("GET", &format!("/v1/accounts/{alice_addr}"), None)
        .await;
    assert_eq!(
        (status, account),
        (StatusCode::OK, json!({"address": alice_addr, "nonce": 3}))
    );

    let (status, latest) = api.call("GET", "/v1/blocks/latest", None).await;
    assert_eq!(status, StatusCode::OK);
    let height = latest["height"].as_u64().unwrap();
    assert!(height >= 4, "{latest}");
    for field in [
        "hash",
        "prev_hash",
        "timestamp",
        "tx_hashes",
        "state_root",
        "tx_root",
        "receipt_root",
    ] {
        assert!(latest.get(field).is_some(), "block lacks {field}");
    }
    let (_, previous) = api
        .call("GET", &format!("/v1/blocks/{}", height - 1), None)
        .await;
    assert_eq!(latest["prev_hash"], previous["hash"]);
    let (_, with_register) = api
        .call(
            "GET",
            &format!("/v1/blocks/{}", receipt["block_height"]),
            None,
        )
        .await;
    assert!(
        with_register["tx_hashes"]
            .as_array()
            .unwrap()
            .contains(&json!(tx_hash))
    );

    let (status, s) = api.call("GET", "/v1/status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["chain_id"], CHAIN);
    assert_eq!(s["height"], latest["height"]);
    assert_eq!(s["latest_hash"], latest["hash"]);

    // The event index, one event per page, then the end.
    let events = format!("/v1/contracts/{custody}/events?key=document_id&value=d1");
    let (status, page) = api.call("GET", &format!("{events}&limit=1"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["events"][0]["tx_hash"], tx_hash);
    assert_eq!(page["events"][0]["block_height"], receipt["block_height"]);
    assert_eq!(page["events"][0]["event"]["type"], "register");
    let next = page["next"].as_str().unwrap();
    let (_, page) = api
        .call("GET", &format!("{events}&limit=1&after={next}"), None)
        .await;
    assert_eq!(page["events"][0]["event"]["type"], "access_denied");
    assert_eq!(page["next"], Value::Null);
    let (_, all) = api.call("GET", &events, None).await;
    assert_eq!(all["events"].as_array().unwrap().len(), 2);
    let (_, none) = api
        .call(
            "GET",
            &format!("/v1/contracts/{custody}/events?key=document_id&value=d2"),
            None,
        )
        .await;
    assert_eq!(none, json!({"events": [], "next": null}));

    // A refused transaction is counted by reason.
    let (status, err) = api
        .call(
            "POST",
            "/v1/transactions",
            Some(&serde_json::to_value(&register).unwrap()),
        )
        .await;
    assert_spec_error(status, &err, "duplicate_transaction", "resubmission");
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, metrics) = api
        .raw(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("vellum_txs_admitted_total 4"), "{metrics}");
    assert!(
        metrics.contains("vellum_txs_refused_total{reason=\"duplicate_transaction\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("vellum_block_height {height}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("vellum_block_commit_seconds_count"),
        "{metrics}"
    );
    assert!(metrics.contains("vellum_mempool_txs 0"), "{metrics}");
    // Every block since genesis was acknowledged after one journal flush, and redb holds them
    // (the reads above waited for it) after at least one of its commits.
    assert!(
        metrics.contains(&format!(
            "vellum_journal_flush_seconds_bucket{{le=\"+Inf\"}} {height}\nvellum_journal_flush_seconds_sum "
        )),
        "{metrics}"
    );
    let store_commits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vellum_store_commit_seconds_count "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((1..=height).contains(&store_commits), "{metrics}");

    // The OpenAPI document lists every route.
    let (status, doc) = api.call("GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/v1/transactions",
        "/v1/transactions/{hash}",
        "/v1/contracts/{address}",
        "/v1/contracts/{address}/query",
        "/v1/contracts/{address}/events",
        "/v1/accounts/{address}",
        "/v1/blocks/{height}",
        "/v1/blocks/latest",
        "/v1/status",
        "/v1/health",
        "/v1/openapi.json",
        "/metrics",
    ] {
        assert!(paths.contains_key(route), "openapi lacks {route}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_with_the_spec_body_never_a_5xx() {
    let api = Api::new(ApiConfig::default());
    let alice = key("alice");
    let custody = setup_custody(&api, &alice).await;
    let contract = vellum_node::chain::parse_hex(&custody).unwrap();
    let zeros40 = "0".repeat(40);
    let zeros64 = "0".repeat(64);
    let env = |e: Envelope| serde_json::to_string(&e).unwrap();
    let signed_text = |payload: &str| env(sign(payload, &alice));
    let mut flipped = signed(&alice, 2, execute(&contract, json!({})));
    let mut signature = hex::decode(&flipped.signature).unwrap();
    signature[5] ^= 1;
    flipped.signature = hex::encode(signature);
    let other_chain = sign(
        &payload_json(
            "other-chain",
            &addr(&alice),
            2,
            None,
            &execute(&contract, json!({})),
        ),
        &alice,
    );
    let mut mismatched = signed(&alice, 2, execute(&contract, json!({})));
    mismatched.payload = mismatched
        .payload
        .replace(&hex::encode(addr(&alice)), &zeros40);
    let mismatched = sign(&mismatched.payload, &alice);

    let cases: Vec<(&str, String, Option<&str>, String, &str)> = vec![
        // (method, uri, content type, body, expected code)
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            "{bad".into(),
            "malformed_json",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            "".into(),
            "malformed_json",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            "{}".into(),
            "invalid_body",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            r#"{"payload": 1, "public_key": "", "signature": ""}"#.into(),
            "invalid_body",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            r#"{"payload": "{}", "public_key": "", "signature": "", "extra": 1}"#.into(),
            "invalid_body",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            "[1, 2]".into(),
            "invalid_body",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            None,
            signed_text("{}"),
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("text/plain"),
            signed_text("{}"),
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/transactions?wait=maybe".into(),
            Some("application/json"),
            signed_text("{}"),
            "invalid_query",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            r#"{"payload": "{}", "public_key": "zz", "signature": "00"}"#.into(),
            "invalid_public_key",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            format!(
                r#"{{"payload": "{{}}", "public_key": "04{}", "signature": "{}"}}"#,
                "11".repeat(32),
                "11".repeat(64)
            ),
            "invalid_public_key",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            env(flipped),
            "invalid_signature",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text("not json"),
            "malformed_transaction",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text("{}"),
            "malformed_transaction",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text(&payload_json(
                CHAIN,
                &addr(&alice),
                2,
                None,
                &Action::Deploy {
                    code: "!!not base64".into(),
                },
            )),
            "malformed_transaction",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text(&payload_json(
                CHAIN,
                &addr(&alice),
                2,
                None,
                &Action::Deploy {
                    code: "AAAA".into(),
                },
            )),
            "invalid_code",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text(&payload_json(
                CHAIN,
                &addr(&alice),
                2,
                None,
                &Action::Instantiate {
                    code_hash: "xyz".into(),
                    msg: raw(json!({})),
                    label: String::new(),
                },
            )),
            "malformed_transaction",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text(&payload_json(
                CHAIN,
                &addr(&alice),
                2,
                None,
                &Action::Execute {
                    contract: "xyz".into(),
                    msg: raw(json!({})),
                },
            )),
            "malformed_transaction",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            signed_text(&payload_json(
                CHAIN,
                &addr(&alice),
                2,
                Some(u64::MAX),
                &execute(&contract, json!({})),
            )),
            "fuel_limit_too_high",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            env(other_chain),
            "wrong_chain",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            env(mismatched),
            "signer_mismatch",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            env(signed(&alice, 0, execute(&contract, json!({})))),
            "stale_nonce",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            env(signed(&alice, 9, execute(&contract, json!({})))),
            "nonce_gap",
        ),
        (
            "POST",
            "/v1/transactions".into(),
            Some("application/json"),
            "x".repeat(BODY_BYTES_MAX + 1),
            "payload_too_large",
        ),
        (
            "GET",
            "/v1/transactions/xyz".into(),
            None,
            String::new(),
            "invalid_hash",
        ),
        (
            "GET",
            format!("/v1/transactions/{zeros64}"),
            None,
            String::new(),
            "transaction_not_found",
        ),
        (
            "GET",
            "/v1/transactions".into(),
            None,
            String::new(),
            "method_not_allowed",
        ),
        (
            "GET",
            format!("/v1/contracts/{zeros40}"),
            None,
            String::new(),
            "contract_not_found",
        ),
        (
            "GET",
            "/v1/contracts/0xabc".into(),
            None,
            String::new(),
            "invalid_address",
        ),
        (
            "POST",
            format!("/v1/contracts/{zeros40}/query"),
            Some("application/json"),
            "{}".into(),
            "contract_not_found",
        ),
        (
            "POST",
            "/v1/contracts/nothex/query".into(),
            Some("application/json"),
            "{}".into(),
            "invalid_address",
        ),
        (
            "POST",
            format!("/v1/contracts/{custody}/query"),
            Some("application/json"),
            "{oops".into(),
            "malformed_json",
        ),
        (
            "POST",
            format!("/v1/contracts/{custody}/query"),
            None,
            "{}".into(),
            "unsupported_media_type",
        ),
        (
            "POST",
            format!("/v1/contracts/{custody}/query"),
            Some("application/json"),
            r#"{"no_such_query": {}}"#.into(),
            "contract_error",
        ),
        (
            "POST",
            format!("/v1/contracts/{custody}/query"),
            Some("application/json"),
            r#"{"history": {"document_id": "missing"}}"#.into(),
            "contract_error",
        ),
        (
            "GET",
            format!("/v1/contracts/{custody}/events"),
            None,
            String::new(),
            "invalid_query",
        ),
        (
            "GET",
            format!("/v1/contracts/{custody}/events?key=document_id&value=d1&after=zz"),
            None,
            String::new(),
            "invalid_cursor",
        ),
        (
            "GET",
            format!("/v1/contracts/{custody}/events?key=document_id&value=d1&limit=0"),
            None,
            String::new(),
            "invalid_limit",
        ),
        (
            "GET",
            format!("/v1/contracts/{custody}/events?key=document_id&value=d1&limit=-3"),
            None,
            String::new(),
            "invalid_query",
        ),
        (
            "GET",
            format!("/v1/contracts/{zeros40}/events?key=a&value=b"),
            None,
            String::new(),
            "contract_not_found",
        ),
        (
            "GET",
            "/v1/accounts/xyz".into(),
            None,
            String::new(),
            "invalid_address",
        ),
        (
            "GET",
            "/v1/accounts/%FF%FE".into(),
            None,
            String::new(),
            "bad_request",
        ),
        (
            "GET",
            "/v1/blocks/-1".into(),
            None,
            String::new(),
            "invalid_height",
        ),
        (
            "GET",
            "/v1/blocks/18446744073709551616".into(),
            None,
            String::new(),
            "invalid_height",
        ),
        (
            "GET",
            "/v1/blocks/99999".into(),
            None,
            String::new(),
            "block_not_found",
        ),
        ("GET", "/nope".into(), None, String::new(), "not_found"),
        ("GET", "/v2/status".into(), None, String::new(), "not_found"),
        (
            "DELETE",
            "/v1/status".into(),
            None,
            String::new(),
            "method_not_allowed",
        ),
        (
            "PUT",
            "/v1/transactions".into(),
            Some("application/json"),
            "{}".into(),
            "method_not_allowed",
        ),
    ];
    for (method, uri, content_type, body, code) in cases {
        let what = format!("{method} {uri} ({} body bytes)", body.len());
        let mut request = Request::builder().method(method).uri(&uri);
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let (status, ct, bytes) = api.raw(request.body(Body::from(body)).unwrap()).await;
        assert!(
            ct.starts_with("application/json"),
            "{what}: content type {ct}"
        );
        let json: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e})"));
        assert_spec_error(status, &json, code, &what);
    }
    // None of those was admitted: alice's next nonce is still 2.
    let (_, account) = api
        .call(
            "GET",
            &format!("/v1/accounts/{}", hex::encode(addr(&alice))),
            None,
        )
        .await;
    assert_eq!(account["nonce"], 2);
}

/// A body that never arrives: the request holds its in-flight permit until it times out.
fn stalled_body() -> Body {
    Body::from_stream(futures_util::stream::pending::<
        Result<Vec<u8>, std::io::Error>,
    >())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_and_slow_requests_get_a_clear_503() {
    let api = Api::new(ApiConfig {
        in_flight_max: 1,
        // Long enough that the request below is made while the permit is held, even on a
        // loaded machine.
        request_timeout_ms: 3_000,
        wait_timeout_ms: 100,
        ..ApiConfig::default()
    });
    // Two requests whose bodies never arrive, with room for one: exactly one holds the permit
    // (until the request timeout) and the other is refused at once, whichever came first.
    // (Polling with a third request instead raced: a poll holding the permit when a stalled
    // request arrived got that one refused, and then nothing held the permit.)
    let stalled = |app: axum::Router| {
        let slow = Request::post("/v1/transactions")
            .header(header::CONTENT_TYPE, "application/json")
            .body(stalled_body())
            .unwrap();
        tokio::spawn(async move { app.oneshot(slow).await.unwrap() })
    };
    let (a, b) = (stalled(api.app.clone()), stalled(api.app.clone()));
    let (refused, holder) = match futures_util::future::select(a, b).await {
        futures_util::future::Either::Left((r, other))
        | futures_util::future::Either::Right((r, other)) => (r.unwrap(), other),
    };
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(refused.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_spec_error_5xx(&serde_json::from_slice(&body).unwrap(), "overloaded");
    // While the other holds the permit, any request is refused the same way.
    let (status, body) = api.call("GET", "/v1/status", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_spec_error_5xx(&body, "overloaded");
    // The holder is answered at the request timeout.
    let response = holder.await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_spec_error_5xx(&serde_json::from_slice(&body).unwrap(), "timeout");
    // The permit is back.
    let (status, _) = api.call("GET", "/v1/status", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, metrics) = api
        .raw(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("vellum_http_requests_timed_out_total 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("vellum_http_requests_shed_total 0"),
        "{metrics}"
    );
    drop(api.ledger);
}

fn assert_spec_error_5xx(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

/// Splits an SSE body into (event name, data) frames.
fn sse_frames(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|frame| {
            let mut name = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sends_committed_blocks_and_filtered_events_and_ends_at_shutdown() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(LedgerConfig::new(dir.path(), CHAIN)).unwrap());
    let state = ApiState::new(
        ledger.clone(),
        ApiConfig {
            streams_max: 1,
            ..ApiConfig::default()
        },
    );
    let api = Api {
        app: app(state.clone()),
        ledger,
        _dir: dir,
    };
    let alice = key("alice");
    let custody = setup_custody(&api, &alice).await;
    let contract = vellum_node::chain::parse_hex(&custody).unwrap();

    for (uri, code) in [
        ("/v1/stream?key=document_id".to_string(), "invalid_filter"),
        (
            format!("/v1/stream?contract={custody}&value=d1"),
            "invalid_filter",
        ),
        ("/v1/stream?contract=zz".to_string(), "invalid_address"),
    ] {
        let (status, body) = api.call("GET", &uri, None).await;
        assert_spec_error(status, &body, code, &uri);
    }

    let response = api
        .app
        .clone()
        .oneshot(
            Request::get(format!(
                "/v1/stream?contract={custody}&key=document_id&value=d1"
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();

    // The bound holds: a second stream is refused while the first is open.
    let (status, refused) = api.call("GET", "/v1/stream", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "overloaded");

    let register = |nonce, id: &str| {
        signed(
            &alice,
            nonce,
            execute(
                &contract,
                json!({"register": {"document_id": id, "sha256": DOC}}),
            ),
        )
    };
    let other = api.submit_wait(&register(2, "d2")).await;
    let mine = api.submit_wait(&register(3, "d1")).await;

    // Read until the block holding `mine` and its event have arrived.
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(text.contains(mine["tx_hash"].as_str().unwrap()) && text.contains("event: event")) {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("the stream sent the block and the event in time")
            .expect("the stream is open")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // Complete frames only.
    let text = &text[..text.rfind("\n\n").unwrap() + 2];
    let frames = sse_frames(text);
    let blocks: Vec<&Value> = frames
        .iter()
        .filter(|(n, _)| n == "block")
        .map(|(_, d)| d)
        .collect();
    for receipt in [&other, &mine] {
        let block = blocks
            .iter()
            .find(|b| b["height"] == receipt["block_height"])
            .unwrap_or_else(|| panic!("no block frame for {receipt}"));
        assert!(
            block["tx_hashes"]
                .as_array()
                .unwrap()
                .contains(&receipt["tx_hash"]),
            "{block}"
        );
        assert_eq!(block["hash"].as_str().unwrap().len(), 64);
    }
    // Exactly the one event of d1 (d2's register is filtered out), as the events route shows it.
    let events: Vec<&Value> = frames
        .iter()
        .filter(|(n, _)| n == "event")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    let (status, page) = api
        .call(
            "GET",
            &format!("/v1/contracts/{custody}/events?key=document_id&value=d1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["events"][0], *events[0]);
    assert_eq!(events[0]["tx_hash"], mine["tx_hash"]);

    // Shutting down ends the stream and refuses new ones.
    state.close_streams();
    let rest = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(rest.is_ok(), "the stream ended at shutdown");
    let (status, body) = api.call("GET", "/v1/stream", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

/// `POST /v1/transactions/batch`: each envelope gets the single route's checks, in order, and
/// its own outcome; only a request that is not a batch is refused as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_admits_each_envelope_in_order_with_its_own_outcome() {
    let api = Api::new(ApiConfig::default());
    let (alice, bob, carol) = (key("alice"), key("bob"), key("carol"));
    let custody = setup_custody(&api, &alice).await;
    let contract = vellum_node::chain::parse_hex(&custody).unwrap();
    let register = |k: &k256::ecdsa::SigningKey, nonce: u64, doc: &str| {
        signed(
            k,
            nonce,
            execute(
                &contract,
                json!({"register": {"document_id": doc, "sha256": DOC}}),
            ),
        )
    };
    let hash_of = |e: &Envelope| hex::encode(vellum_node::chain::sha256(&[e.payload.as_bytes()]));
    let first = register(&alice, 2, "batch-a");
    // Nonce 3 right behind nonce 2: admitted only because the batch keeps its order.
    let second = register(&alice, 3, "batch-b");
    let mut forged = register(&bob, 0, "batch-c");
    let mut signature = hex::decode(&forged.signature).unwrap();
    signature[7] ^= 1;
    forged.signature = hex::encode(signature);
    let gapped = register(&carol, 5, "batch-d");
    let batch = [
        first.clone(),
        second.clone(),
        forged.clone(),
        second.clone(),
        gapped.clone(),
    ];
    let (status, answer) = api
        .call(
            "POST",
            "/v1/transactions/batch?wait=true",
            Some(&json!({ "transactions": batch })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), batch.len(), "{answer}");
    for (item, envelope) in results.iter().zip(&batch) {
        assert_eq!(item["tx_hash"], hash_of(envelope), "{item}");
    }
    for (i, doc) in [(0, "batch-a"), (1, "batch-b")] {
        let item = &results[i];
        assert_eq!(item["status"], "committed", "{item}");
        assert!(item.get("error").is_none(), "{item}");
        let receipt = &item["receipt"];
        assert_eq!(receipt["success"], true, "{item}");
        assert_eq!(receipt["tx_hash"], item["tx_hash"], "{item}");
        assert_eq!(receipt["nonce"], i as u64 + 2, "{item}");
        assert_eq!(
            receipt["events"][0]["attributes"]["document_id"], doc,
            "{item}"
        );
    }
    for (i, code) in [
        (2, "invalid_signature"),
        (3, "duplicate_transaction"),
        (4, "nonce_gap"),
    ] {
        let item = &results[i];
        assert_eq!(item["status"], "refused", "{item}");
        assert_eq!(item["error"]["code"], code, "{item}");
        assert!(!item["error"]["message"].as_str().unwrap().is_empty());
        assert!(item.get("receipt").is_none(), "{item}");
    }
    // The refused ones were counted by reason, like single submissions.
    let (_, _, metrics) = api
        .raw(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains(r#"reason="nonce_gap"} 1"#),
        "metrics do not count the refusal:\n{metrics}"
    );

    // Without `wait`: admitted and pending, then committed like any transaction.
    let third = register(&alice, 4, "batch-e");
    let (status, answer) = api
        .call(
            "POST",
            "/v1/transactions/batch",
            Some(&json!({ "transactions": [third] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["status"], "pending", "{answer}");
    let hash = hash_of(&third);
    let mut committed = Value::Null;
    for _ in 0..500 {
        let (status, tx) = api
            .call("GET", &format!("/v1/transactions/{hash}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{tx}");
        if tx["status"] == "committed" {
            committed = tx;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(committed["receipt"]["success"], true, "{committed}");

    // Requests that are not a batch are refused whole, with the SPEC error body.
    let too_many = vec![third.clone(); vellum_node::limits::BATCH_TXS_MAX + 1];
    let cases: Vec<(String, &str)> = vec![
        ("{bad".into(), "malformed_json"),
        (json!({"transactions": []}).to_string(), "empty_batch"),
        (serde_json::to_string(&[&third]).unwrap(), "invalid_body"),
        (
            json!({"transactions": [third], "extra": 1}).to_string(),
            "invalid_body",
        ),
        (
            json!({"transactions": [{"payload": 1}]}).to_string(),
            "invalid_body",
        ),
        (
            json!({ "transactions": too_many }).to_string(),
            "batch_too_large",
        ),
        // Not of the wire's shape: the request is not a batch of envelopes.
        (
            json!({"transactions": [third, {"payload": "{}", "public_key": "zz", "signature": ""}]})
                .to_string(),
            "invalid_public_key",
        ),
    ];
    for (body, code) in cases {
        let (status, _, answer) = api
            .raw(
                Request::builder()
                    .method("POST")
                    .uri("/v1/transactions/batch")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()))
                    .unwrap(),
            )
            .await;
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        let what = format!("batch body {}", &body[..body.len().min(60)]);
        assert_spec_error(status, &answer, code, &what);
    }
    let (status, answer) = api.call("GET", "/v1/transactions/batch", None).await;
    assert_spec_error(
        status,
        &answer,
        "method_not_allowed",
        "GET on the batch route",
    );
    let (_, doc) = api.call("GET", "/v1/openapi.json", None).await;
    assert!(
        doc["paths"]["/v1/transactions/batch"]["post"].is_object(),
        "the batch route is missing from the OpenAPI document"
    );
    // The schema's bound is a literal in an attribute: it must stay the node's limit.
    assert_eq!(
        doc["components"]["schemas"]["BatchRequest"]["properties"]["transactions"]["maxItems"],
        vellum_node::limits::BATCH_TXS_MAX,
        "{}",
        doc["components"]["schemas"]["BatchRequest"]
    );
}
