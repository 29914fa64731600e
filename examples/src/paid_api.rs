//! The example API: two priced routes and a free one, behind the payment layer.
//!
//! - `GET /weather`: 0.001 of the token;
//! - `GET /report/:id`: 0.01 of the token, and the handler names the payer;
//! - `GET /health`: free;
//! - `GET /metrics`: the payment layer's Prometheus metrics ([`metered_app`]), free.

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Json, Router};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use t402_core::{AssetAmount, Facilitator, Network, NetworkPattern, Price};
use t402_evm::ExactEvmServer;
use t402_server::metrics::LayerMetrics;
use t402_server::{ConfigError, PaymentLayer, PaymentOption, Route, VerifiedPayment};

/// What the API is paid in, and to whom.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// The chain.
    pub network: Network,
    /// The EIP-3009 token.
    pub token: String,
    /// The token's EIP-712 domain name.
    pub token_name: String,
    /// The token's EIP-712 domain version.
    pub token_version: String,
    /// The token's decimals.
    pub decimals: u8,
    /// The payee.
    pub pay_to: String,
}

impl Pricing {
    /// Priced in `network`'s default USDC (from the asset table), paid to `pay_to`: for running
    /// the example on a public test network (`docs/src/base-sepolia.md`).
    pub fn default_usdc(network: Network, pay_to: &str) -> Option<Self> {
        let usdc = t402_core::asset::default_asset(&network)?;
        Some(Self {
            token: usdc.address.to_owned(),
            token_name: usdc.eip712_name?.to_owned(),
            token_version: usdc.eip712_version?.to_owned(),
            decimals: usdc.decimals,
            pay_to: pay_to.to_owned(),
            network,
        })
    }

    fn option(&self, atomic: u64, max_timeout_seconds: u64) -> PaymentOption {
        let mut extra = serde_json::Map::new();
        extra.insert("name".into(), json!(self.token_name));
        extra.insert("version".into(), json!(self.token_version));
        let price =
            Price::Asset(AssetAmount::new(self.token.clone(), atomic.into()).with_extra(extra));
        PaymentOption::exact(self.network.clone(), price, self.pay_to.clone())
            .max_timeout_seconds(max_timeout_seconds)
            .decimals(self.decimals)
    }

    /// `units` thousandths of a token, in atomic units.
    fn thousandths(&self, units: u64) -> u64 {
        units * 10u64.pow(u32::from(self.decimals.saturating_sub(3)))
    }
}

/// The payment layer of the API, with `facilitator` verifying and settling.
pub async fn payment_layer(
    pricing: &Pricing,
    facilitator: Arc<dyn Facilitator>,
) -> Result<PaymentLayer, ConfigError> {
    payment_layer_with_hooks(pricing, facilitator, t402_server::NoHooks).await
}

/// The payment layer of the API, with hooks.
pub async fn payment_layer_with_hooks(
    pricing: &Pricing,
    facilitator: Arc<dyn Facilitator>,
    hooks: impl t402_server::PaymentHooks,
) -> Result<PaymentLayer, ConfigError> {
    builder(pricing, facilitator)
        .hooks(hooks)
        .build_and_initialize()
        .await
}

/// The whole app with the payment layer's metrics (challenges, paid requests, failures,
/// facilitator latency) served at `GET /metrics` in the Prometheus text format.
pub async fn metered_app(
    pricing: &Pricing,
    facilitator: Arc<dyn Facilitator>,
) -> Result<Router, ConfigError> {
    let mut registry = Registry::default();
    let metrics = LayerMetrics::register(&mut registry);
    let layer = builder(pricing, facilitator)
        .metrics(metrics)
        .build_and_initialize()
        .await?;
    let registry = Arc::new(registry);
    let scrape = get(move || {
        let registry = registry.clone();
        async move { t402_server::metrics::scrape(&registry) }
    });
    Ok(router(layer).route("/metrics", scrape))
}

/// The layer's configuration: the EVM mechanism and the two priced routes.
fn builder(
    pricing: &Pricing,
    facilitator: Arc<dyn Facilitator>,
) -> t402_server::PaymentLayerBuilder {
    let evm = NetworkPattern::parse("eip155:*").expect("a valid pattern");
    PaymentLayer::builder()
        .facilitator(facilitator)
        .mechanism(evm, Arc::new(ExactEvmServer))
        .route(
            "GET /weather",
            Route::new(pricing.option(pricing.thousandths(1), 120))
                .description("Today's weather")
                .mime_type("application/json"),
        )
        .route(
            "GET /report/:id",
            Route::new(pricing.option(pricing.thousandths(10), 120))
                .description("A market report")
                .mime_type("application/json"),
        )
}

/// The API's routes behind `payments`.
pub fn router(payments: PaymentLayer) -> Router {
    Router::new()
        .route("/weather", get(weather))
        .route("/report/{id}", get(report))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .layer(payments)
}

async fn weather() -> Json<Value> {
    Json(json!({"city": "Lisbon", "forecast": "sunny", "temperature_c": 24}))
}

async fn report(
    Path(id): Path<String>,
    Extension(payment): Extension<VerifiedPayment>,
) -> Json<Value> {
    Json(json!({
        "report": id,
        "summary": "stablecoin volumes up 4% week on week",
        "paid_by": payment.payer,
    }))
}
