//! Several facilitators with precedence, and a handler reporting the amount to settle.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use t402_core::error::BoxFuture;
use t402_core::wire::FacilitatorRequest;
use t402_core::{
    Amount, Facilitator, FacilitatorError, SettleResponse, SupportedResponse, VerifyResponse,
};
use t402_server::{Route, SettlementAmount};

/// A facilitator that supports nothing and fails every call.
struct Empty;

impl Facilitator for Empty {
    fn verify<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(async { Err(FacilitatorError::Unavailable("empty".into())) })
    }
    fn settle<'a>(
        &'a self,
        _: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async { Err(FacilitatorError::Unavailable("empty".into())) })
    }
    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async { Ok(SupportedResponse::default()) })
    }
}

#[tokio::test]
async fn the_first_facilitator_listing_a_kind_owns_it() {
    let world = World::new();
    let first = Arc::new(Scripted::new(world.facilitator.clone()));
    let second = Arc::new(Scripted::new(world.facilitator.clone()));
    let app = world.app(
        world
            .builder_with(Arc::new(Empty))
            .facilitator(first.clone())
            .facilitator(second.clone()),
    );
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The facilitator listing nothing was skipped; the first listing the kind did the work.
    assert_eq!(first.verify_calls.load(Ordering::SeqCst), 1);
    assert_eq!(first.settled_amounts.lock().unwrap().len(), 1);
    assert_eq!(second.verify_calls.load(Ordering::SeqCst), 0);
    assert!(second.settled_amounts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_handler_reports_the_amount_to_settle() {
    let world = World::new();
    // Settlement answers success without the chain: the exact scheme would refuse a partial
    // amount, and this test is about what the layer asks for.
    let mut answering = Scripted::new(world.facilitator.clone());
    answering.settle_answer = Some(|| SettleResponse::success("0x01", "eip155:31337", "0xpayer"));
    let scripted = Arc::new(answering);
    let layer = world
        .builder_with(scripted.clone())
        .route("GET /metered", Route::new(world.option()))
        .route("GET /greedy", Route::new(world.option()))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/metered",
            get(|| async {
                let mut response = axum::response::IntoResponse::into_response("used a little");
                response
                    .extensions_mut()
                    .insert(SettlementAmount(Amount::from(2_500u64)));
                response
            }),
        )
        .route(
            "/greedy",
            get(|| async {
                let mut response = axum::response::IntoResponse::into_response("used too much");
                response
                    .extensions_mut()
                    .insert(SettlementAmount(Amount::from(PRICE * 2)));
                response
            }),
        )
        .layer(layer);

    let payment = world
        .pay(&required_of(&get_with(&app, "/metered", &[]).await))
        .await;
    let response = get_with(&app, "/metered", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        scripted.settled_amounts.lock().unwrap().as_slice(),
        &[Amount::from(2_500u64)]
    );

    let payment = world
        .pay(&required_of(&get_with(&app, "/greedy", &[]).await))
        .await;
    let response = get_with(&app, "/greedy", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(response).await;
    assert!(body.contains("upto_amount_exceeds_permitted"), "{body}");
    assert!(!body.contains("used too much"));
    assert_eq!(
        scripted.settled_amounts.lock().unwrap().len(),
        1,
        "nothing settled"
    );
}

/// Records which hooks ran.
#[derive(Default, Clone)]
struct Recorder {
    calls: Arc<std::sync::Mutex<Vec<String>>>,
}

impl t402_server::PaymentHooks for Recorder {
    fn on_challenge(&self, event: &t402_server::ChallengeEvent<'_>) {
        self.calls.lock().unwrap().push(format!(
            "challenge:{} {} {} {}",
            event.status.as_u16(),
            event.method,
            event.uri.path(),
            event.route
        ));
    }

    fn after_verify<'a>(
        &'a self,
        _: &'a t402_server::PaymentEvent,
        response: &'a VerifyResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            assert!(response.is_valid);
            self.calls.lock().unwrap().push("after_verify".into());
        })
    }

    fn before_settle<'a>(
        &'a self,
        _: &'a t402_server::PaymentEvent,
    ) -> BoxFuture<'a, t402_server::HookDecision> {
        Box::pin(async move {
            self.calls.lock().unwrap().push("before_settle".into());
            t402_server::HookDecision::Continue
        })
    }

    fn after_settle<'a>(
        &'a self,
        _: &'a t402_server::PaymentEvent,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            assert!(response.success);
            self.calls.lock().unwrap().push("after_settle".into());
        })
    }

    fn on_failure<'a>(
        &'a self,
        _: &'a t402_server::PaymentEvent,
        failure: &'a t402_server::PaymentFailure,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let name = match failure {
                t402_server::PaymentFailure::SettlementFailed(settled) => {
                    format!(
                        "settlement_failed:{}",
                        settled.error_reason.as_ref().unwrap()
                    )
                }
                other => format!("{other:?}"),
            };
            self.calls.lock().unwrap().push(name);
        })
    }
}

#[tokio::test]
async fn hooks_see_verification_settlement_and_failure() {
    let world = World::new();
    let recorder = Recorder::default();
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .hooks(recorder.clone()),
    );
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    assert_eq!(
        get_with(&app, "/paid", &[("payment-signature", &payment)])
            .await
            .status(),
        200
    );
    assert_eq!(
        recorder.calls.lock().unwrap().as_slice(),
        [
            "challenge:402 GET /paid GET /paid",
            "after_verify",
            "before_settle",
            "after_settle"
        ]
    );
    recorder.calls.lock().unwrap().clear();
    let payment = world
        .pay(&required_of(&get_with(&app, "/slow", &[]).await))
        .await;
    assert_eq!(
        get_with(&app, "/slow", &[("payment-signature", &payment)])
            .await
            .status(),
        402
    );
    assert_eq!(
        recorder.calls.lock().unwrap().as_slice(),
        [
            "challenge:402 GET /slow GET /slow",
            "after_verify",
            "before_settle",
            "settlement_failed:invalid_exact_evm_payload_authorization_valid_before"
        ]
    );
}

#[tokio::test]
async fn the_challenge_hook_hears_every_unpaid_request_and_nothing_else() {
    let world = World::new();
    let recorder = Recorder::default();
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .hooks(recorder.clone()),
    );
    // Free routes and browsers: the page is a challenge too.
    assert_eq!(get_with(&app, "/free", &[]).await.status(), 200);
    let page = get_with(
        &app,
        "/paid",
        &[("accept", "text/html"), ("user-agent", "Mozilla/5.0")],
    )
    .await;
    assert_eq!(page.status(), 402);
    assert_eq!(get_with(&app, "/big", &[]).await.status(), 402);
    assert_eq!(
        recorder.calls.lock().unwrap().as_slice(),
        [
            "challenge:402 GET /paid GET /paid",
            "challenge:402 GET /big GET /big"
        ]
    );

    // A facilitator that cannot be asked: the hook hears the error status.
    struct Down;
    impl Facilitator for Down {
        fn verify<'a>(
            &'a self,
            _: &'a t402_core::wire::FacilitatorRequest,
        ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
            Box::pin(async { Err(FacilitatorError::Unavailable("down".into())) })
        }
        fn settle<'a>(
            &'a self,
            _: &'a t402_core::wire::FacilitatorRequest,
        ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
            Box::pin(async { Err(FacilitatorError::Unavailable("down".into())) })
        }
        fn supported(
            &self,
        ) -> BoxFuture<'_, Result<t402_core::SupportedResponse, FacilitatorError>> {
            Box::pin(async { Err(FacilitatorError::Unavailable("down".into())) })
        }
    }
    let recorder = Recorder::default();
    let app = world.app(world.builder_with(Arc::new(Down)).hooks(recorder.clone()));
    assert_eq!(get_with(&app, "/paid", &[]).await.status(), 502);
    assert_eq!(
        recorder.calls.lock().unwrap().as_slice(),
        ["challenge:502 GET /paid GET /paid"]
    );
}

#[tokio::test]
async fn a_stream_on_a_route_that_settles_after_is_not_sent() {
    let world = World::new();
    let scripted = Arc::new(Scripted::new(world.facilitator.clone()));
    let layer = world
        .builder_with(scripted.clone())
        .route("GET /events", Route::new(world.option()))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/events",
            get(|| async { ([("content-type", "text/event-stream")], "data: secret\n\n") }),
        )
        .layer(layer);
    let payment = world
        .pay(&required_of(&get_with(&app, "/events", &[]).await))
        .await;
    let response = get_with(&app, "/events", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body_text(response).await.contains("secret"));
    assert!(scripted.settled_amounts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn supported_is_read_again_after_a_facilitator_failure() {
    let world = World::new();
    let mut failing = Scripted::new(world.facilitator.clone());
    failing.verify_error = Some(|| FacilitatorError::Unavailable("connection reset".into()));
    let scripted = Arc::new(failing);
    let app = world.app(world.builder_with(scripted.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    assert_eq!(scripted.supported_calls.load(Ordering::SeqCst), 1);
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let _ = get_with(&app, "/paid", &[]).await;
    assert_eq!(scripted.supported_calls.load(Ordering::SeqCst), 2);
}
