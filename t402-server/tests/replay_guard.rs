//! The replay guard with the in-memory store: a payment presented again while its first request
//! is in flight, or after it was paid, is refused before verification and the handler runs once;
//! a payment whose request ended without money moving may be presented again; a store that
//! cannot be reached refuses paid requests (503) instead of serving them unguarded.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use t402_core::VerifyResponse;
use t402_server::Route;
use tokio::sync::Notify;

/// `GET /slow-handler` priced; its handler waits until told to go on.
fn waiting_app(world: &World, gate: Arc<Notify>, entered: Arc<Notify>) -> Router {
    let layer = world
        .builder_with(world.facilitator.clone())
        .route("GET /slow-handler", Route::new(world.option()))
        .build()
        .unwrap();
    let runs = world.handled.clone();
    Router::new()
        .route(
            "/slow-handler",
            get(move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                entered.notify_one();
                gate.notified().await;
                SECRET
            }),
        )
        .layer(layer)
}

/// A payment for `/slow-handler`, and a request paying with it that is held in the handler.
async fn paid_request_in_its_handler(
    world: &World,
    app: &Router,
    entered: &Notify,
) -> (String, tokio::task::JoinHandle<axum::response::Response>) {
    let payment = world
        .pay(&required_of(&get_with(app, "/slow-handler", &[]).await))
        .await;
    let first = {
        let (app, payment) = (app.clone(), payment.clone());
        tokio::spawn(async move {
            get_with(&app, "/slow-handler", &[("payment-signature", &payment)]).await
        })
    };
    entered.notified().await;
    (payment, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_replayed_while_in_flight_never_reaches_the_handler() {
    let world = World::new();
    let (gate, entered) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let app = waiting_app(&world, gate.clone(), entered.clone());
    let (payment, first) = paid_request_in_its_handler(&world, &app, &entered).await;
    // The first request is in its handler, not yet settled.
    for _ in 0..5 {
        let replay = get_with(&app, "/slow-handler", &[("payment-signature", &payment)]).await;
        assert_eq!(replay.status(), StatusCode::PAYMENT_REQUIRED);
        assert_eq!(
            required_of(&replay).error.as_deref(),
            Some("t402_payment_replayed")
        );
        assert!(!body_text(replay).await.contains(SECRET));
    }
    gate.notify_one();
    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(world.handled(), 1);
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::from(PRICE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_presentations_of_one_payment_are_served_once() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, payment) = (app.clone(), payment.clone());
            tokio::spawn(async move {
                get_with(&app, "/paid", &[("payment-signature", &payment)])
                    .await
                    .status()
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            served += 1;
        }
    }
    assert_eq!(served, 1);
    assert_eq!(world.handled(), 1, "the handler ran once");
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::from(PRICE)
    );
}

#[tokio::test]
async fn a_payment_that_moved_no_money_may_be_presented_again() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    // The handler fails: nothing is settled, and the same payment can pay another request.
    let payment = world
        .pay(&required_of(&get_with(&app, "/fail", &[]).await))
        .await;
    let failed = get_with(&app, "/fail", &[("payment-signature", &payment)]).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let again = get_with(&app, "/fail", &[("payment-signature", &payment)]).await;
    assert_eq!(
        again.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "not replayed"
    );
    assert_eq!(world.handled(), 2);
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::ZERO
    );

    // Verification refused (the facilitator said no): released too.
    let mut refusing = Scripted::new(world.facilitator.clone());
    refusing.verify_answer =
        Some(|| VerifyResponse::invalid(t402_core::Reason::InvalidExactEvmSignature, None));
    let app = world.app(world.builder_with(Arc::new(refusing)));
    let payment = world
        .pay(&required_of(&get_with(&app, "/paid", &[]).await))
        .await;
    for _ in 0..2 {
        let refused = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
        assert_eq!(
            required_of(&refused).error.as_deref(),
            Some("invalid_exact_evm_signature")
        );
    }
}

#[tokio::test]
async fn an_unreachable_store_refuses_paid_requests() {
    let world = World::new();
    let down = Arc::new(t402_testkit::UnreachableStore::default());
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .settlement_store(down.clone()),
    );
    // Unpaid requests still get their challenge.
    let challenge = get_with(&app, "/paid", &[]).await;
    assert_eq!(challenge.status(), StatusCode::PAYMENT_REQUIRED);
    let payment = world.pay(&required_of(&challenge)).await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_text(response).await;
    assert!(body.contains("t402_settlement_store_unavailable"), "{body}");
    assert_eq!(down.calls(), 1);
    assert_eq!(world.handled(), 0);
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::ZERO
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_goes_away_before_settlement_releases_its_claim() {
    let world = World::new();
    let (gate, entered) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let app = waiting_app(&world, gate.clone(), entered.clone());
    let (payment, first) = paid_request_in_its_handler(&world, &app, &entered).await;
    // The client goes away while the handler works: nothing was settled.
    first.abort();
    let _ = first.await;
    // Its retry of the same payment is served, not refused as a replay.
    let mut retried = None;
    for _ in 0..50 {
        let (app, payment) = (app.clone(), payment.clone());
        let mut retry = tokio::spawn(async move {
            get_with(&app, "/slow-handler", &[("payment-signature", &payment)]).await
        });
        tokio::select! {
            _ = entered.notified() => {
                gate.notify_one();
                retried = Some(retry.await.unwrap());
                break;
            }
            refused = &mut retry => {
                let refused = refused.unwrap();
                assert_eq!(required_of(&refused).error.as_deref(), Some("t402_payment_replayed"));
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    let retried = retried.expect("the retry reached the handler");
    assert_eq!(retried.status(), StatusCode::OK);
    assert_eq!(world.handled(), 2);
    assert_eq!(
        world.balance(world.pay_to).await,
        alloy_primitives::U256::from(PRICE)
    );
}
