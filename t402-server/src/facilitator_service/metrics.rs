//! The facilitator service's Prometheus metrics (`prometheus-client`), served at `/metrics` in
//! the OpenMetrics text format.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use t402_core::health::ChainHealth;

/// One answered `/verify` or `/settle`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// `verify` or `settle`.
    pub(crate) endpoint: &'static str,
    /// The network the payment named (empty when the body could not be read).
    pub(crate) network: String,
    /// The scheme the payment named.
    pub(crate) scheme: String,
    /// `valid` / `success`, the refusal's reason, `bad_request` or the error's reason.
    pub(crate) outcome: String,
}

/// Requests of one endpoint.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EndpointLabels {
    /// `verify`, `settle` or `supported`.
    pub(crate) endpoint: &'static str,
}

/// A chain.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ChainLabels {
    pub(crate) network: String,
}

/// A signer on a chain.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SignerLabels {
    pub(crate) network: String,
    pub(crate) signer: String,
}

/// Requests refused before reaching the facilitator.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RefusalLabels {
    /// `unauthorized` or `rate_limited`.
    pub(crate) refusal: &'static str,
    /// The API key's name (`anonymous` without one).
    pub(crate) key: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The metrics of one facilitator service, and the registry they are encoded from.
#[derive(Clone)]
pub(crate) struct ServiceMetrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    supported: Counter,
    refused: Family<RefusalLabels, Counter>,
    chain_up: Family<ChainLabels, Gauge>,
    signer_balance: Family<SignerLabels, Gauge<f64, AtomicU64>>,
}

impl std::fmt::Debug for ServiceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceMetrics").finish_non_exhaustive()
    }
}

impl ServiceMetrics {
    /// Registers every metric, prefixed `t402_facilitator_`.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("t402_facilitator");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Verify and settle requests answered, by network, scheme and outcome",
            requests.clone(),
        );
        let durations =
            Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "request_duration_seconds",
            "Time to answer verify, settle and supported requests",
            durations.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "settlements_in_flight",
            "Settle requests being worked on",
            in_flight.clone(),
        );
        let supported = Counter::default();
        registry.register(
            "supported",
            "Supported requests answered",
            supported.clone(),
        );
        let refused = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refused",
            "Requests refused before reaching the facilitator (no valid API key, rate limited)",
            refused.clone(),
        );
        let chain_up = Family::<ChainLabels, Gauge>::default();
        registry.register(
            "chain_up",
            "Whether the chain's node answered at the last check (1) or not (0)",
            chain_up.clone(),
        );
        let signer_balance = Family::<SignerLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "signer_balance",
            "What each signer holds of the chain's native token (ETH, SOL) for gas and fees, at the last check",
            signer_balance.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            durations,
            in_flight,
            supported,
            refused,
            chain_up,
            signer_balance,
        }
    }

    /// Counts an answered verify or settle request and its duration.
    pub(crate) fn answered(&self, labels: RequestLabels, elapsed: Duration) {
        self.durations
            .get_or_create(&EndpointLabels {
                endpoint: labels.endpoint,
            })
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts an answered `/supported`.
    pub(crate) fn supported(&self, elapsed: Duration) {
        self.durations
            .get_or_create(&EndpointLabels {
                endpoint: "supported",
            })
            .observe(elapsed.as_secs_f64());
        self.supported.inc();
    }

    /// Counts a request refused before reaching the facilitator.
    pub(crate) fn refused(&self, refusal: &'static str, key: &str) {
        self.refused
            .get_or_create(&RefusalLabels {
                refusal,
                key: key.to_owned(),
            })
            .inc();
    }

    /// Records a check of the chains.
    pub(crate) fn chains(&self, chains: &[ChainHealth]) {
        for chain in chains {
            self.chain_up
                .get_or_create(&ChainLabels {
                    network: chain.network.clone(),
                })
                .set(i64::from(chain.is_up()));
            for signer in &chain.signers {
                self.signer_balance
                    .get_or_create(&SignerLabels {
                        network: chain.network.clone(),
                        signer: signer.address.clone(),
                    })
                    .set(signer.in_tokens());
            }
        }
    }

    /// A settlement starts; the guard ends it.
    pub(crate) fn settling(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// The `/metrics` answer.
    pub(crate) fn scrape(&self) -> http::Response<String> {
        crate::metrics::scrape(&self.registry)
    }
}

/// A settlement in flight; dropping it ends it.
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
