//! The facilitator service as operators expose it: API keys, rate limits, request ids and
//! Prometheus metrics, over the real EVM facilitator on the in-process devnet.

use std::num::NonZeroU32;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use t402_server::facilitator_service::{ApiKeys, FacilitatorService, RateLimit};
use t402_testkit::DevnetWorld;
use tower::ServiceExt;

const KEY_A: &str = "partner-a-secret-key-0001";
const KEY_B: &str = "partner-b-secret-key-0002";

fn keys() -> ApiKeys {
    ApiKeys::named([("partner-a", KEY_A), ("partner-b", KEY_B)]).unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> (Response<()>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (Response::from_parts(parts, ()), value)
}

fn get(path: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::empty()).unwrap()
}

fn post(path: &str, key: Option<&str>, body: &Value) -> Request<Body> {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn without_a_valid_api_key_only_health_answers() {
    let world = DevnetWorld::new();
    let app = FacilitatorService::new(world.facilitator.clone())
        .api_keys(keys())
        .router();
    for key in [None, Some("partner-a-secret-key-000X"), Some("")] {
        let (response, body) = send(&app, get("/supported", key)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(body["error"], "t402_unauthorized");
        assert_eq!(body["code"], "T402-2019");
        let (response, _) = send(&app, post("/settle", key, &json!({}))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
    }
    for key in [KEY_A, KEY_B] {
        let (response, body) = send(&app, get("/supported", Some(key))).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body["kinds"][0]["network"], "eip155:31337");
    }
    let (response, body) = send(&app, get("/health", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_and_others_do_not() {
    let world = DevnetWorld::new();
    let app = FacilitatorService::new(world.facilitator.clone())
        .api_keys(keys())
        .rate_limit(RateLimit::new(
            NonZeroU32::new(1).unwrap(),
            NonZeroU32::new(2).unwrap(),
        ))
        .router();
    for _ in 0..2 {
        let (response, _) = send(&app, get("/supported", Some(KEY_A))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (response, body) = send(&app, get("/supported", Some(KEY_A))).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(body["error"], "t402_rate_limited");
    assert_eq!(body["code"], "T402-2020");
    let (response, _) = send(&app, get("/supported", Some(KEY_B))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "partner-b has its own bucket"
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let world = DevnetWorld::new();
    let app = FacilitatorService::new(world.facilitator.clone()).router();
    let (response, _) = send(&app, get("/supported", None)).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let (other, _) = send(&app, get("/supported", None)).await;
    assert_ne!(other.headers()["x-request-id"], id.as_str());
    let given = Request::get("/health")
        .header("x-request-id", "trace-me-42")
        .body(Body::empty())
        .unwrap();
    let (response, _) = send(&app, given).await;
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

/// The value of the sample of `metric` whose labels contain `labels`.
fn sample(text: &str, metric: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(metric) && line.contains(labels))
        .find_map(|line| line.rsplit_once(' ')?.1.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_network_scheme_and_outcome() {
    let world = DevnetWorld::new();
    let app = FacilitatorService::new(world.facilitator.clone())
        .api_keys(keys())
        .with_metrics()
        .router();
    let request = serde_json::to_value(world.payment(10_000).await).unwrap();

    let (response, body) = send(&app, post("/verify", Some(KEY_A), &request)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["isValid"], true);
    let (_, body) = send(&app, post("/settle", Some(KEY_A), &request)).await;
    assert_eq!(body["success"], true, "{body}");
    let (_, body) = send(&app, post("/verify", Some(KEY_B), &request)).await;
    assert_eq!(body["isValid"], false, "the nonce is used now");
    let reason = body["invalidReason"].as_str().unwrap().to_owned();
    let (response, _) = send(&app, post("/verify", Some(KEY_B), &json!({"nope": 1}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    send(&app, get("/supported", Some(KEY_A))).await;
    send(&app, get("/supported", None)).await;

    let (response, _) = send(&app, get("/metrics", None)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "metrics are behind the keys"
    );
    let (response, text) = send(&app, get("/metrics", Some(KEY_A))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = text.as_str().unwrap();
    let requests = "t402_facilitator_requests_total";
    let kind = r#"network="eip155:31337",scheme="exact""#;
    assert_eq!(
        sample(
            text,
            requests,
            &format!(r#"endpoint="verify",{kind},outcome="valid""#)
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            text,
            requests,
            &format!(r#"endpoint="settle",{kind},outcome="success""#)
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            requests,
            &format!(r#"endpoint="verify",{kind},outcome="{reason}""#)
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(text, requests, r#"outcome="bad_request""#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            "t402_facilitator_request_duration_seconds_count",
            r#"endpoint="verify""#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            text,
            "t402_facilitator_request_duration_seconds_count",
            r#"endpoint="settle""#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(text, "t402_facilitator_supported_total", ""),
        Some(1.0)
    );
    assert_eq!(
        sample(text, "t402_facilitator_settlements_in_flight", ""),
        Some(0.0)
    );
    assert_eq!(
        sample(
            text,
            "t402_facilitator_refused_total",
            r#"refusal="unauthorized""#
        ),
        Some(2.0),
        "the keyless /supported and /metrics"
    );
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn health_asks_each_chain_and_reports_the_signers_gas() {
    let Some(world) = t402_testkit::AnvilWorld::start().await else {
        return;
    };
    let app = FacilitatorService::new(world.facilitator.clone())
        .api_keys(keys())
        .with_metrics()
        .router();
    let (response, body) = send(&app, get("/health", None)).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    let chain = &body["chains"][0];
    assert_eq!(chain["network"], "eip155:31337");
    let signer = chain["signers"][0]["address"].as_str().unwrap().to_owned();
    assert_eq!(chain["signers"][0]["decimals"], 18);
    assert_eq!(
        chain["signers"][0]["balance"], "10000000000000000000",
        "10 ETH of gas"
    );

    let (_, text) = send(&app, get("/metrics", Some(KEY_A))).await;
    let text = text.as_str().unwrap();
    assert_eq!(
        sample(
            text,
            "t402_facilitator_signer_balance",
            &format!(r#"signer="{signer}""#)
        ),
        Some(10.0),
        "{text}"
    );
    assert_eq!(
        sample(
            text,
            "t402_facilitator_chain_up",
            r#"network="eip155:31337""#
        ),
        Some(1.0)
    );

    // The node goes away: unhealthy, and the liveness probe still answers.
    let t402_testkit::AnvilWorld { anvil, .. } = world;
    drop(anvil);
    let (response, body) = send(&app, get("/health", None)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert!(body["chains"][0]["error"].is_string(), "{body}");
    let (response, _) = send(&app, get("/health/live", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, text) = send(&app, get("/metrics", Some(KEY_A))).await;
    assert_eq!(
        sample(
            text.as_str().unwrap(),
            "t402_facilitator_chain_up",
            r#"network="eip155:31337""#
        ),
        Some(0.0)
    );
}
