//! Prometheus metrics of the payment layer (`prometheus-client`): challenges, paid requests,
//! failures by stage and reason, and how long the facilitator takes. Register them in your
//! registry and give them to the layer:
//!
//! ```
//! use prometheus_client::registry::Registry;
//! use t402_server::metrics::LayerMetrics;
//!
//! let mut registry = Registry::default();
//! let metrics = LayerMetrics::register(&mut registry);
//! # let _ = metrics;
//! // PaymentLayer::builder().metrics(metrics) … ; serve `registry` at /metrics with
//! // t402_server::metrics::scrape.
//! ```

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A `GET /metrics` answer: every metric of `registry` in the OpenMetrics text format.
pub fn scrape(registry: &Registry) -> http::Response<String> {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    let mut response = http::Response::new(text);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
    );
    response
}

/// A priced route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// A paid request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PaidLabels {
    route: String,
    network: String,
    scheme: String,
}

/// A payment that failed.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    route: String,
    /// `verify`, `settle`, `facilitator` (it could not be used) or `aborted` (a hook).
    stage: &'static str,
    reason: String,
}

/// A facilitator call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    /// `verify` or `settle`.
    call: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The payment layer's metrics, all prefixed `t402_server_`. Cheap to clone.
#[derive(Clone)]
pub struct LayerMetrics {
    challenges: Family<RouteLabels, Counter>,
    paid: Family<PaidLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    facilitator: Family<CallLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for LayerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerMetrics").finish_non_exhaustive()
    }
}

impl LayerMetrics {
    /// Registers the layer's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let registry = registry.sub_registry_with_prefix("t402_server");
        let metrics = Self {
            challenges: Family::default(),
            paid: Family::default(),
            failures: Family::default(),
            facilitator: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "challenges",
            "Priced requests answered with a challenge (no payment), by route",
            metrics.challenges.clone(),
        );
        registry.register(
            "paid_requests",
            "Requests paid and settled, by route, network and scheme",
            metrics.paid.clone(),
        );
        registry.register(
            "payment_failures",
            "Payments refused or not settled, by route, stage and reason",
            metrics.failures.clone(),
        );
        registry.register(
            "facilitator_duration_seconds",
            "Time the facilitator took to verify or settle",
            metrics.facilitator.clone(),
        );
        metrics
    }

    pub(crate) fn challenge(&self, route: &str) {
        self.challenges
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc();
    }

    pub(crate) fn paid(&self, route: &str, network: &str, scheme: &str) {
        self.paid
            .get_or_create(&PaidLabels {
                route: route.to_owned(),
                network: network.to_owned(),
                scheme: scheme.to_owned(),
            })
            .inc();
    }

    pub(crate) fn failure(&self, route: &str, stage: &'static str, reason: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                route: route.to_owned(),
                stage,
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub(crate) fn facilitator_call(&self, call: &'static str, elapsed: Duration) {
        self.facilitator
            .get_or_create(&CallLabels { call })
            .observe(elapsed.as_secs_f64());
    }
}
