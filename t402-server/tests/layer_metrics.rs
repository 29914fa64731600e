//! The payment layer's Prometheus metrics on the in-process devnet: challenges, paid requests,
//! failures by stage and reason, facilitator latency.

mod common;

use axum::http::StatusCode;
use common::*;
use prometheus_client::registry::Registry;
use t402_core::codec::encode_header;
use t402_core::{ClientMechanism, PaymentPayload};
use t402_server::metrics::LayerMetrics;

/// The value of the sample of `metric` whose labels contain `labels`.
fn sample(text: &str, metric: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(metric) && line.contains(labels))
        .find_map(|line| line.rsplit_once(' ')?.1.parse().ok())
}

#[tokio::test]
async fn challenges_payments_and_failures_are_counted() {
    let world = World::new();
    let mut registry = Registry::default();
    let metrics = LayerMetrics::register(&mut registry);
    let app = world.app(
        world
            .builder_with(world.facilitator.clone())
            .metrics(metrics),
    );

    for _ in 0..2 {
        let unpaid = get_with(&app, "/paid", &[]).await;
        assert_eq!(unpaid.status(), StatusCode::PAYMENT_REQUIRED);
    }
    let required = required_of(&get_with(&app, "/paid", &[]).await);
    let paid = get_with(
        &app,
        "/paid",
        &[("payment-signature", &world.pay(&required).await)],
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);

    // Signed for less than the price: the facilitator refuses it.
    let mut cheaper = required.accepts[0].clone();
    cheaper.amount = 1u64.into();
    let signed = t402_evm::ExactEvmClient::new(world.payer.clone())
        .with_clock(world.clock.clone())
        .create_payload(2, &cheaper, None)
        .await
        .unwrap();
    let mut payment = PaymentPayload::new(required.accepts[0].clone().into(), signed.payload);
    payment.resource = Some(required.resource.clone());
    let refused = get_with(
        &app,
        "/paid",
        &[("payment-signature", &encode_header(&payment))],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert_eq!(
        sample(
            &text,
            "t402_server_challenges_total",
            r#"route="GET /paid""#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "t402_server_paid_requests_total",
            r#"route="GET /paid",network="eip155:31337",scheme="exact""#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "t402_server_payment_failures_total",
            r#"route="GET /paid",stage="verify",reason="invalid_exact_evm_"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "t402_server_facilitator_duration_seconds_count",
            r#"call="verify""#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "t402_server_facilitator_duration_seconds_count",
            r#"call="settle""#
        ),
        Some(1.0)
    );
}
