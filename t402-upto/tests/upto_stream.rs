//! Metered streaming on the devnet: a server-sent-events route verifies before the first byte,
//! its handler counts usage per event on the request's `Meter`, and the layer settles what was
//! streamed when the stream ends — at its natural end, at the ceiling, and when the client goes
//! away — with the receipt as the stream's last event (or a trailer for a chunked body).

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use common::{World, serve};
use t402_core::Amount;
use t402_evm::contracts::IErc20;
use t402_evm::permit2::PERMIT2;
use t402_server::{Meter, PaymentEvent, PaymentFailure, PaymentHooks, Route};

/// The ceiling: 20 events at [`PER_EVENT`].
const CEILING: u64 = 20_000;
const PER_EVENT: u64 = 1_000;

/// Serves the streaming handlers, metered at a ceiling of [`CEILING`], reporting failures to
/// `hooks`.
async fn serve_streams(world: &World, hooks: Failures) -> String {
    let layer = world
        .layer()
        .route(
            "GET /stream/{kind}",
            Route::new(world.option(CEILING)).metered(),
        )
        .hooks(hooks)
        .build_and_initialize()
        .await
        .expect("the layer initializes");
    serve(
        Router::new()
            .route("/stream/{kind}", get(stream))
            .layer(layer),
    )
    .await
}

/// A signed payment for `url`'s offer: the header's name and value.
async fn payment_header(world: &World, url: &str) -> (&'static str, http::HeaderValue) {
    let challenge = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(challenge.status(), 402);
    let headers = challenge.headers().clone();
    let body = challenge.bytes().await.unwrap();
    let payer = world.payer();
    let read = payer.read_challenge(&headers, &body).unwrap();
    let prepared = payer.prepare(&read, url, None).await.unwrap();
    (prepared.header_name, prepared.header_value.clone())
}

/// `/stream/five`: five token events, then the end. `/stream/endless`: events until the meter
/// says stop. `/stream/slow`: an event every 20 ms, forever. `/stream/chunked`: three chunks of
/// a plain body.
async fn stream(
    axum::extract::Path(kind): axum::extract::Path<String>,
    Extension(meter): Extension<Meter>,
) -> Response {
    let (count, delay, sse) = match kind.as_str() {
        "five" => (Some(5), None, true),
        "five_slowly" => (Some(5), Some(Duration::from_millis(40)), true),
        "endless" => (None, None, true),
        "slow" => (None, Some(Duration::from_millis(20)), true),
        _ => (Some(3), None, false),
    };
    let events = futures_util::stream::unfold(0u64, move |sent| {
        let meter = meter.clone();
        async move {
            if count.is_some_and(|count| sent >= count) {
                return None;
            }
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            meter.add(Amount::from(PER_EVENT));
            let chunk = if sse {
                Bytes::from(format!("event: token\ndata: t{sent}\n\n"))
            } else {
                Bytes::from(format!("chunk {sent};"))
            };
            Some((Ok::<_, Infallible>(chunk), sent + 1))
        }
    });
    let content_type = if sse {
        "text/event-stream"
    } else {
        "text/plain"
    };
    Response::builder()
        .header("content-type", content_type)
        .body(Body::from_stream(events))
        .unwrap()
}

#[tokio::test]
async fn a_stream_that_ends_settles_what_it_streamed_and_ends_with_the_receipt() {
    let world = World::new();
    let base = serve_streams(&world, Failures::default()).await;
    let response = world
        .client()
        .get(&format!("{base}/stream/five"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text();
    assert_eq!(text.matches("event: token").count(), 5, "{text}");
    assert!(
        text.trim_end()
            .rsplit("\n\n")
            .next()
            .unwrap()
            .starts_with("event: payment-response"),
        "{text}"
    );
    let receipt = response.receipt().cloned().expect("the receipt event");
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.amount, Some(Amount::from(5 * PER_EVENT)));
    assert_eq!(world.received().await, U256::from(5 * PER_EVENT));
}

#[tokio::test]
async fn reaching_the_ceiling_ends_the_stream() {
    let world = World::new();
    let base = serve_streams(&world, Failures::default()).await;
    let response = world
        .client()
        .get(&format!("{base}/stream/endless"))
        .send()
        .await
        .unwrap();
    let text = response.text();
    assert_eq!(
        text.matches("event: token").count(),
        (CEILING / PER_EVENT) as usize,
        "{text}"
    );
    let receipt = response.receipt().cloned().expect("the receipt event");
    assert_eq!(receipt.amount, Some(Amount::from(CEILING)));
    assert_eq!(world.received().await, U256::from(CEILING));
}

#[tokio::test]
async fn a_client_that_leaves_early_pays_for_what_was_streamed() {
    let world = World::new();
    let base = serve_streams(&world, Failures::default()).await;
    let url = format!("{base}/stream/slow");
    // Pay by hand and read the stream ourselves, then go away after three events.
    let (name, value) = payment_header(&world, &url).await;
    let mut paid = reqwest::Client::new()
        .get(&url)
        .header(name, value)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let mut seen = String::new();
    while seen.matches("event: token").count() < 3 {
        let chunk = paid.chunk().await.unwrap().expect("more events");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let streamed = seen.matches("event: token").count() as u64;
    drop(paid);
    // The server notices on its next write and settles in the background: at least what we
    // saw, at most a few events more (written before it noticed), never the ceiling.
    let mut received = U256::ZERO;
    for _ in 0..200 {
        received = world.received().await;
        if received > U256::ZERO {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(received >= U256::from(streamed * PER_EVENT), "{received}");
    assert!(
        received <= U256::from((streamed + 5) * PER_EVENT),
        "{received}"
    );
}

#[tokio::test]
async fn a_chunked_stream_carries_the_receipt_in_a_trailer() {
    use http_body_util::BodyExt;
    let world = World::new();
    let base = serve_streams(&world, Failures::default()).await;
    let url = format!("{base}/stream/chunked");
    let (name, value) = payment_header(&world, &url).await;
    let stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/stream/chunked")
        .header("host", base.trim_start_matches("http://"))
        .header("te", "trailers")
        .header(name, value)
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["trailer"], "payment-response");
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers");
    let body = collected.to_bytes();
    assert_eq!(&body[..], b"chunk 0;chunk 1;chunk 2;");
    let receipt = t402_core::codec::Codec::default()
        .decode_payment_response(trailers["payment-response"].as_bytes())
        .unwrap();
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.amount, Some(Amount::from(3 * PER_EVENT)));
    assert_eq!(world.received().await, U256::from(3 * PER_EVENT));
}

/// Counts the failures reported to the payment hooks.
#[derive(Clone, Default)]
struct Failures(Arc<std::sync::Mutex<Vec<String>>>);

impl PaymentHooks for Failures {
    fn on_failure<'a>(
        &'a self,
        _event: &'a PaymentEvent,
        failure: &'a PaymentFailure,
    ) -> t402_core::error::BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.lock().unwrap().push(format!("{failure:?}"));
        })
    }
}

#[tokio::test]
async fn a_settlement_that_fails_after_streaming_is_reported_and_in_the_receipt() {
    let world = World::new();
    let failures = Failures::default();
    let base = serve_streams(&world, failures.clone()).await;
    let client = world.client();
    let url = format!("{base}/stream/five_slowly");
    let streaming = tokio::spawn(async move { client.get(&url).send().await });
    // While it streams, the payer withdraws Permit2's allowance: the settlement will fail.
    tokio::time::sleep(Duration::from_millis(80)).await;
    let revoke = IErc20::approveCall {
        spender: PERMIT2,
        value: U256::ZERO,
    };
    assert!(
        world
            .devnet
            .execute_as(
                world.payer.address(),
                Some(world.token),
                revoke.abi_encode()
            )
            .unwrap()
            .success
    );
    let response = streaming.await.unwrap().unwrap();
    assert_eq!(response.text().matches("event: token").count(), 5);
    let receipt = response.receipt().cloned().expect("the receipt event");
    assert!(!receipt.success, "{receipt:?}");
    assert_eq!(world.received().await, U256::ZERO);
    let reported = failures.0.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].contains("SettlementFailed"), "{reported:?}");
}
