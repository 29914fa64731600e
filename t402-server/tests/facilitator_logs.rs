//! The facilitator service's log line per request, captured (alone in this test binary: tracing
//! caches per call site whether anyone listens, so another test running first without a
//! subscriber would silence these call sites for the whole process).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use t402_server::facilitator_service::{ApiKeys, FacilitatorService};
use t402_testkit::DevnetWorld;
use tower::ServiceExt;

const KEY_B: &str = "partner-b-secret-key-0002";

async fn send(app: &Router, request: Request<Body>) -> (Response<()>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, ()),
        serde_json::from_slice(&bytes).unwrap(),
    )
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_settlement_is_logged_with_its_request_key_payment_payer_and_outcome() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let world = DevnetWorld::new();
    let recorded = t402_server::facilitator::RecordedFacilitator::new(
        (*world.facilitator).clone(),
        t402_core::MemorySettlementStore::new(),
    );
    let app = FacilitatorService::new(std::sync::Arc::new(recorded))
        .api_keys(ApiKeys::named([("partner-b", KEY_B)]).unwrap())
        .router();
    let request = serde_json::to_value(world.payment(10_000).await).unwrap();
    let settle = Request::post("/settle")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {KEY_B}"))
        .header("x-request-id", "req-7")
        .body(Body::from(request.to_string()))
        .unwrap();
    let (_, body) = send(&app, settle).await;
    assert_eq!(body["success"], true, "{body}");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("answered") && line.contains("endpoint=\"settle\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("request_id=req-7"), "{line}");
    assert!(line.contains("key=\"partner-b\""), "{line}");
    assert!(
        line.contains(&format!(
            "payment=exact/eip155:31337/{}/{}/0x",
            world.token.to_string().to_lowercase(),
            world.payer.address().to_string().to_lowercase()
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!("payer=\"{}\"", world.payer.address())),
        "{line}"
    );
    assert!(line.contains("outcome=success"), "{line}");
    assert!(line.contains("transaction=\"0x"), "{line}");
    assert!(!text.contains(KEY_B), "keys never reach the logs");
}
