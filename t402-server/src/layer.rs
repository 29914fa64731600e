//! [`PaymentLayer`]: the tower layer that puts routes behind a price, and its builder.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use t402_core::codec::Codec;
use t402_core::mechanism::ServerMechanism;
use t402_core::{
    Facilitator, MechanismRegistry, MemorySettlementStore, NetworkPattern, PROTOCOL_VERSION,
    SettlementStore, VersionKey,
};
use tokio::sync::Mutex;
use tower_layer::Layer;

use crate::config::{Route, SettleMode};
use crate::error::ConfigError;
use crate::facilitator::Facilitators;
use crate::hooks::{NoHooks, PaymentHooks};
use crate::paywall::Paywall;
use crate::route::RoutePattern;
use crate::service::PaymentService;
use crate::state::{LayerState, PricedRoute};

/// A tower layer charging for the configured routes. Cheap to clone.
#[derive(Clone)]
pub struct PaymentLayer {
    state: Arc<LayerState>,
}

impl fmt::Debug for PaymentLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentLayer")
            .field(
                "routes",
                &self
                    .state
                    .routes
                    .iter()
                    .map(|priced| priced.pattern.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("facilitators", &self.state.facilitators)
            .finish_non_exhaustive()
    }
}

impl PaymentLayer {
    /// Starts a configuration.
    pub fn builder() -> PaymentLayerBuilder {
        PaymentLayerBuilder::default()
    }

    /// Asks the facilitators what they support and checks every route: each option needs a
    /// server mechanism (`missing_scheme`) and a facilitator supporting its scheme and network
    /// (`missing_facilitator`). Without this call, the first priced request does it; a failure
    /// then answers that request with an error and is retried on the next.
    pub async fn initialize(&self) -> Result<(), ConfigError> {
        self.state.initialize().await
    }
}

impl<S> Layer<S> for PaymentLayer {
    type Service = PaymentService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaymentService::new(inner, self.state.clone())
    }
}

/// Configures a [`PaymentLayer`].
#[must_use]
pub struct PaymentLayerBuilder {
    routes: Vec<(String, Route)>,
    facilitators: Vec<Arc<dyn Facilitator>>,
    mechanisms: MechanismRegistry<dyn ServerMechanism>,
    hooks: Arc<dyn PaymentHooks>,
    paywall: Option<Paywall>,
    supported_ttl: Option<Duration>,
    codec: Codec,
    store: Option<Arc<dyn SettlementStore>>,
    version_key: VersionKey,
    serves_v1: bool,
    metrics: Option<crate::metrics::LayerMetrics>,
}

impl Default for PaymentLayerBuilder {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            facilitators: Vec::new(),
            mechanisms: MechanismRegistry::new(),
            hooks: Arc::new(NoHooks),
            paywall: Some(Paywall::default()),
            supported_ttl: None,
            codec: Codec::default(),
            store: Some(Arc::new(MemorySettlementStore::new())),
            version_key: VersionKey::Both,
            serves_v1: true,
            metrics: None,
        }
    }
}

impl fmt::Debug for PaymentLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentLayerBuilder")
            .field(
                "routes",
                &self.routes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("facilitators", &self.facilitators.len())
            .finish_non_exhaustive()
    }
}

impl PaymentLayerBuilder {
    /// Adds a facilitator (owned, or shared as an `Arc`); earlier ones take precedence for
    /// the kinds they list.
    pub fn facilitator(mut self, facilitator: impl Facilitator + 'static) -> Self {
        self.facilitators.push(Arc::new(facilitator));
        self
    }

    /// Registers the server side of a scheme for `networks` (`eip155:*`, ...); the mechanism
    /// may be owned or shared as an `Arc`.
    pub fn mechanism(
        mut self,
        networks: NetworkPattern,
        mechanism: impl ServerMechanism + 'static,
    ) -> Self {
        let scheme = mechanism.scheme().to_owned();
        self.mechanisms
            .register(PROTOCOL_VERSION, scheme, networks, Arc::new(mechanism));
        self
    }

    /// Prices the requests matching `pattern` (`"GET /weather"`, `"/api/*"`, `"POST /items/:id"`).
    /// The first matching route wins.
    pub fn route(mut self, pattern: &str, route: Route) -> Self {
        self.routes.push((pattern.to_owned(), route));
        self
    }

    /// Sets the hooks.
    pub fn hooks(mut self, hooks: impl PaymentHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Sets the page browsers get (default: [`Paywall::default`]).
    pub fn paywall(mut self, paywall: Paywall) -> Self {
        self.paywall = Some(paywall);
        self
    }

    /// Where payments are claimed by the replay guard (default: a [`MemorySettlementStore`] of
    /// this layer). Give every instance of a service the same shared store (Redis) so a payment
    /// presented to one instance is refused by the others.
    pub fn settlement_store(mut self, store: impl SettlementStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Turns the replay guard off: a payment presented again while its first request is in
    /// flight reaches the facilitator (and, on a settle-after route, the handler) again.
    pub fn without_replay_guard(mut self) -> Self {
        self.store = None;
        self
    }

    /// Browsers get the JSON 402 like any client.
    pub fn without_paywall(mut self) -> Self {
        self.paywall = None;
        self
    }

    /// How long facilitators' `/supported` answers are kept (default 5 minutes).
    pub fn supported_ttl(mut self, ttl: Duration) -> Self {
        self.supported_ttl = Some(ttl);
        self
    }

    /// The key naming the protocol version in challenges (the `PAYMENT-REQUIRED` header and the
    /// v1 body). The default, [`VersionKey::Both`], writes `x402Version` and `t402Version`:
    /// clients of both families (the x402 SDKs and x402-rs read the first, the t402 SDKs the
    /// second) pay the same server. Payments are accepted with either key.
    pub fn version_key(mut self, key: VersionKey) -> Self {
        self.version_key = key;
        self
    }

    /// Stops serving protocol v1 clients: the 402 body is `{}` and `X-PAYMENT` is ignored (the
    /// request is answered as unpaid). By default, offers whose network has a v1 name and whose
    /// facilitator supports the v1 kind are also written as a v1 body
    /// (`{"x402Version": 1, "accepts": [...]}`), and a v1 payment in `X-PAYMENT` is verified and
    /// settled through the facilitator as v1 and answered with `X-PAYMENT-RESPONSE`.
    pub fn without_v1(mut self) -> Self {
        self.serves_v1 = false;
        self
    }

    /// Records challenges, paid requests, failures and facilitator latency in `metrics`
    /// (registered in your Prometheus registry with [`LayerMetrics::register`]).
    ///
    /// [`LayerMetrics::register`]: crate::metrics::LayerMetrics::register
    pub fn metrics(mut self, metrics: crate::metrics::LayerMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The largest payment header accepted (default 32 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.codec = self.codec.with_max_bytes(bytes);
        self
    }

    /// Checks what can be checked without the facilitators (patterns, options, streaming
    /// routes) and builds the layer. [`PaymentLayer::initialize`] checks the rest.
    pub fn build(self) -> Result<PaymentLayer, ConfigError> {
        if self.facilitators.is_empty() {
            return Err(ConfigError::NoFacilitator);
        }
        let mut routes = Vec::with_capacity(self.routes.len());
        for (text, route) in self.routes {
            let pattern =
                RoutePattern::parse(&text).map_err(|source| ConfigError::InvalidPattern {
                    pattern: text.clone(),
                    source,
                })?;
            if route.options.is_empty() {
                return Err(ConfigError::NoPaymentOption { route: text });
            }
            if route.streaming && route.settle_mode == SettleMode::AfterHandler {
                return Err(ConfigError::StreamingSettlesAfter { route: text });
            }
            routes.push(PricedRoute::new(pattern, route));
        }
        let mut facilitators = Facilitators::new(self.facilitators);
        if let Some(ttl) = self.supported_ttl {
            facilitators = facilitators.with_ttl(ttl);
        }
        Ok(PaymentLayer {
            state: Arc::new(LayerState {
                routes,
                facilitators,
                mechanisms: self.mechanisms,
                hooks: self.hooks,
                paywall: self.paywall,
                codec: self.codec,
                version_key: self.version_key,
                serves_v1: self.serves_v1,
                metrics: self.metrics,
                store: self.store,
                initialized: AtomicBool::new(false),
                initializing: Mutex::new(()),
            }),
        })
    }

    /// Builds and initializes.
    pub async fn build_and_initialize(self) -> Result<PaymentLayer, ConfigError> {
        let layer = self.build()?;
        layer.initialize().await?;
        Ok(layer)
    }
}
