//! What an unpaying client can try against the layer: encoded separators in a parameter, HEAD
//! on a GET route, a payment whose `accepted` bends the offer. Each must get 402 with the
//! handler never run and nothing settled.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use common::*;
use t402_core::codec::{Codec, encode_header};
use t402_core::{PaymentPayload, Reason};
use t402_server::Route;
use tower::ServiceExt;

/// `GET /report/:id` priced, counting handler runs.
fn report_app(world: &World, runs: Arc<AtomicUsize>) -> Router {
    let layer = world
        .builder_with(world.facilitator.clone())
        .route("GET /report/:id", Route::new(world.option()))
        .build()
        .unwrap();
    Router::new()
        .route(
            "/report/{id}",
            get(move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                SECRET
            }),
        )
        .layer(layer)
}

#[tokio::test]
async fn an_encoded_separator_in_a_parameter_is_still_priced() {
    let world = World::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let app = report_app(&world, runs.clone());
    for path in [
        "/report/a%2Fb",
        "/report/a%2fb",
        "/report/a%5Cb",
        "/report/a\\b",
        "/report/%2F",
        "/report/plain",
    ] {
        let response = get_with(&app, path, &[]).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED, "{path}");
        assert!(!body_text(response).await.contains(SECRET), "{path}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn head_on_a_get_route_is_priced() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let request = Request::head("/paid")
        .header("host", "api.test")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(response.headers().contains_key("payment-required"));
    assert_eq!(world.handled(), 0);
}

/// A payment for `/paid` whose `accepted` was changed by `bend` after signing the offer.
async fn bent_payment(
    world: &World,
    app: &Router,
    bend: impl FnOnce(&mut serde_json::Value),
) -> String {
    let header = world
        .pay(&required_of(&get_with(app, "/paid", &[]).await))
        .await;
    let payment: PaymentPayload = Codec::default().decode_payment_signature(&header).unwrap();
    let mut value = serde_json::to_value(&payment).unwrap();
    bend(&mut value["accepted"]);
    let payment: PaymentPayload = serde_json::from_value(value).unwrap();
    encode_header(&payment)
}

#[tokio::test]
async fn an_accepted_that_bends_the_offer_is_refused() {
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    type Bend = fn(&mut serde_json::Value);
    let bends: [(&str, Bend); 4] = [
        ("a longer maxTimeoutSeconds", |a| {
            a["maxTimeoutSeconds"] = serde_json::json!(86_400)
        }),
        ("a shorter maxTimeoutSeconds", |a| {
            a["maxTimeoutSeconds"] = serde_json::json!(5)
        }),
        ("extra dropped", |a| {
            a.as_object_mut().unwrap().remove("extra");
        }),
        ("an offered extra field dropped", |a| {
            a["extra"].as_object_mut().unwrap().remove("version");
        }),
    ];
    for (what, bend) in bends {
        let payment = bent_payment(&world, &app, bend).await;
        let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED, "{what}");
        assert_eq!(
            required_of(&response).error.as_deref(),
            Some(Reason::NoMatchingRequirements.as_str()),
            "{what}"
        );
    }
    // Extra fields the offer does not have are the client's business.
    let payment = bent_payment(&world, &app, |a| {
        a["extra"]["note"] = serde_json::json!("mine");
    })
    .await;
    let response = get_with(&app, "/paid", &[("payment-signature", &payment)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(world.handled(), 1);
}
