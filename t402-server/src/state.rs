//! [`LayerState`]: what every request of one [`PaymentLayer`](crate::PaymentLayer) shares — the
//! routes, facilitators, mechanisms, hooks and the caches of built challenges.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use t402_core::codec::Codec;
use t402_core::mechanism::ServerMechanism;
use t402_core::{MechanismRegistry, PROTOCOL_VERSION, PaymentRequirements, VersionKey};
use tokio::sync::Mutex;

use crate::config::Route;
use crate::error::ConfigError;
use crate::facilitator::Facilitators;
use crate::hooks::PaymentHooks;
use crate::paywall::Paywall;
use crate::route::{RequestPath, RoutePattern};

/// A route's requirements for a request, and which of them are also offered to v1 clients.
#[derive(Debug, Default)]
pub(crate) struct BuiltOffers {
    /// The requirements, in the route's order.
    pub(crate) accepts: Vec<PaymentRequirements>,
    /// The indices in `accepts` of the offers a v1 client may pay: their network has a v1 name
    /// and a facilitator supports the v1 kind.
    pub(crate) v1: Vec<usize>,
    /// The extensions the challenge declares (Permit2 gas sponsoring), when any.
    pub(crate) extensions: Option<t402_core::JsonObject>,
}

/// A fixed route's requirements and the `/supported` generation they were built from.
pub(crate) type BuiltRequirements = (u64, Arc<BuiltOffers>);

/// An encoded `PAYMENT-REQUIRED` value (and the v1 body, when v1 is offered) and what it was
/// made from.
pub(crate) struct CachedChallenge {
    pub(crate) generation: u64,
    pub(crate) url: String,
    pub(crate) header: http::HeaderValue,
    pub(crate) v1_body: Option<bytes::Bytes>,
}

/// One priced route with its caches.
pub(crate) struct PricedRoute {
    pub(crate) pattern: RoutePattern,
    pub(crate) route: Route,
    /// The requirements of a fixed route, with the `/supported` generation they were built
    /// from.
    pub(crate) built: std::sync::RwLock<Option<BuiltRequirements>>,
    /// The last plain challenge of a fixed route, with the generation and resource URL it was
    /// encoded for.
    pub(crate) challenge: std::sync::RwLock<Option<CachedChallenge>>,
}

impl PricedRoute {
    pub(crate) fn new(pattern: RoutePattern, route: Route) -> Self {
        Self {
            pattern,
            route,
            built: std::sync::RwLock::new(None),
            challenge: std::sync::RwLock::new(None),
        }
    }
}

/// What every request of the layer shares.
pub(crate) struct LayerState {
    pub(crate) routes: Vec<PricedRoute>,
    pub(crate) facilitators: Facilitators,
    pub(crate) mechanisms: MechanismRegistry<dyn ServerMechanism>,
    pub(crate) hooks: Arc<dyn PaymentHooks>,
    pub(crate) paywall: Option<Paywall>,
    pub(crate) codec: Codec,
    /// The key (or keys) naming the version in challenges.
    pub(crate) version_key: VersionKey,
    /// Whether v1 clients are served (the 402 body, `X-PAYMENT`).
    pub(crate) serves_v1: bool,
    /// Prometheus metrics, when configured.
    pub(crate) metrics: Option<crate::metrics::LayerMetrics>,
    /// Where payments are claimed (the replay guard); `None` turns the guard off.
    pub(crate) store: Option<Arc<dyn t402_core::SettlementStore>>,
    /// Set once the routes were checked against the facilitators.
    pub(crate) initialized: AtomicBool,
    /// Held while checking, so concurrent first requests check once.
    pub(crate) initializing: Mutex<()>,
}

impl LayerState {
    /// The first route matching the request.
    pub(crate) fn route_for(&self, method: &str, path: &str) -> Option<usize> {
        if self.routes.is_empty() {
            return None;
        }
        // Every reading of the path a router may take is priced, the routers' own first.
        RequestPath::new(path).readings().find_map(|segments| {
            self.routes
                .iter()
                .position(|priced| priced.pattern.matches_segments(method, &segments))
        })
    }

    /// The server mechanism for `scheme` on `network` (protocol v2).
    pub(crate) fn mechanism(
        &self,
        scheme: &str,
        network: &t402_core::Network,
    ) -> Option<Arc<dyn ServerMechanism>> {
        self.mechanisms.find(PROTOCOL_VERSION, scheme, network)
    }

    /// Checks every route against the mechanisms and the facilitators' `/supported`.
    pub(crate) async fn initialize(&self) -> Result<(), ConfigError> {
        if self.initialized.load(Ordering::Acquire) {
            return Ok(());
        }
        let _checking = self.initializing.lock().await;
        if self.initialized.load(Ordering::Acquire) {
            return Ok(());
        }
        self.facilitators
            .refresh()
            .await
            .map_err(ConfigError::FacilitatorUnavailable)?;
        let mut problems = Vec::new();
        for priced in &self.routes {
            for option in &priced.route.options {
                let network = option.network.to_string();
                if self.mechanism(&option.scheme, &option.network).is_none() {
                    problems.push((
                        priced.pattern.to_string(),
                        ConfigError::MissingScheme {
                            scheme: option.scheme.clone(),
                            network,
                        },
                    ));
                    continue;
                }
                let offered = self
                    .facilitators
                    .kind(PROTOCOL_VERSION, &option.scheme, option.network.as_str())
                    .await
                    .map_err(ConfigError::FacilitatorUnavailable)?;
                if offered.is_none() {
                    problems.push((
                        priced.pattern.to_string(),
                        ConfigError::MissingFacilitator {
                            scheme: option.scheme.clone(),
                            network,
                        },
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Routes(problems));
        }
        self.initialized.store(true, Ordering::Release);
        Ok(())
    }
}
