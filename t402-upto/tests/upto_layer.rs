//! `upto` through the payment layer on the devnet, paid by the t402 client: the handler reports
//! its usage (typed, or with the reference's `Settlement-Overrides` header in each of its three
//! forms) and exactly that is settled; usage above the ceiling is an error and nothing is
//! settled; no report settles the whole ceiling.

mod common;

use std::time::Duration;

use alloy_primitives::U256;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{World, serve};
use t402_client::Client;
use t402_core::Amount;
use t402_server::{Route, SettlementAmount};

const CEILING: u64 = 100_000;

/// `GET /metered/*` priced at a ceiling of [`CEILING`], answered by `app`'s handlers.
async fn serve_metered(world: &World, app: Router) -> String {
    let layer = world
        .layer()
        .route("GET /metered/{kind}", Route::new(world.option(CEILING)))
        .build_and_initialize()
        .await
        .expect("the layer initializes");
    serve(app.layer(layer)).await
}

fn overrides(amount: &'static str) -> impl IntoResponse {
    (
        [(
            "settlement-overrides",
            format!(r#"{{"amount":"{amount}"}}"#),
        )],
        "metered",
    )
}

fn app() -> Router {
    Router::new()
        .route(
            "/metered/typed",
            get(|| async {
                let mut response = "metered".into_response();
                response
                    .extensions_mut()
                    .insert(SettlementAmount(Amount::from(1_234u64)));
                response
            }),
        )
        .route("/metered/atomic", get(|| async { overrides("2000") }))
        .route("/metered/percent", get(|| async { overrides("12.5%") }))
        .route("/metered/money", get(|| async { overrides("$0.003") }))
        .route("/metered/above", get(|| async { overrides("100001") }))
        .route("/metered/silent", get(|| async { "metered" }))
}

#[tokio::test]
async fn the_layer_settles_what_the_handler_reports() {
    let world = World::new();
    let base = serve_metered(&world, app()).await;
    let client = world.client();
    let mut expected = U256::ZERO;
    for (kind, used) in [
        ("typed", 1_234u64),
        ("atomic", 2_000),
        ("percent", 12_500),
        ("money", 3_000),
        ("silent", CEILING),
    ] {
        let response = client
            .get(&format!("{base}/metered/{kind}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{kind}");
        let receipt = response.receipt().cloned().expect("a receipt");
        assert!(receipt.success, "{kind}: {receipt:?}");
        assert_eq!(receipt.amount, Some(Amount::from(used)), "{kind}");
        assert!(
            response.headers().get("settlement-overrides").is_none(),
            "{kind}: the header is internal"
        );
        expected += U256::from(used);
        assert_eq!(world.received().await, expected, "{kind}");
    }
}

#[tokio::test]
async fn usage_above_the_ceiling_is_an_error_and_nothing_is_settled() {
    let world = World::new();
    let base = serve_metered(&world, app()).await;
    let response = world
        .client()
        .get(&format!("{base}/metered/above"))
        .send()
        .await;
    let status = match response {
        Ok(response) => response.status().as_u16(),
        Err(err) => panic!("{err:?}"),
    };
    assert!(status >= 500, "{status}");
    assert_eq!(world.received().await, U256::ZERO);
}

#[tokio::test]
async fn the_budget_books_the_ceiling_then_keeps_only_what_was_settled() {
    let world = World::new();
    let base = serve_metered(&world, app()).await;
    let budget = t402_client::Budget::new("0.15", Duration::from_secs(3600)).unwrap();
    let payer = world.payer().policy(world.policy().budget(budget.clone()));
    let client = Client::builder().payer(payer).build().unwrap();
    // Ceilings of 0.1 each: with the whole ceiling kept, the second request would not fit.
    for (round, spent) in [(1, "0.001234"), (2, "0.002468"), (3, "0.003702")] {
        let response = client
            .get(&format!("{base}/metered/typed"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "round {round}");
        assert_eq!(budget.spent(), spent, "round {round}");
    }
}

#[tokio::test]
async fn a_replayed_upto_payment_is_refused_and_settles_once() {
    let world = World::new();
    let base = serve_metered(&world, app()).await;
    let url = format!("{base}/metered/typed");
    let http = reqwest::Client::new();
    let challenge = http.get(&url).send().await.unwrap();
    let headers = challenge.headers().clone();
    let body = challenge.bytes().await.unwrap();
    let payer = world.payer();
    let read = payer.read_challenge(&headers, &body).unwrap();
    let prepared = payer.prepare(&read, &url, None).await.unwrap();
    let first = http
        .get(&url)
        .header(prepared.header_name, prepared.header_value.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let again = http
        .get(&url)
        .header(prepared.header_name, prepared.header_value.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 402);
    let required = t402_core::codec::Codec::default()
        .decode_payment_required(again.headers()["payment-required"].as_bytes())
        .unwrap();
    assert_eq!(required.error.as_deref(), Some("t402_payment_replayed"));
    assert_eq!(world.received().await, U256::from(1_234u64));
}
