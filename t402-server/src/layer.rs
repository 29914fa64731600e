//! [`PaymentLayer`]: the tower layer that puts routes behind a price, and its builder.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use t402_core::codec::Codec;
use t402_core::mechanism::ServerMechanism;
use t402_core::{Facilitator, MechanismRegistry, NetworkPattern, PaymentRequirements};
use tokio::sync::Mutex;
use tower_layer::Layer;

use crate::config::{Route, SettleMode};
use crate::error::ConfigError;
use crate::facilitator::Facilitators;
use crate::hooks::{NoHooks, PaymentHooks};
use crate::paywall::Paywall;
use crate::route::{RoutePattern, normalised_request_path, segments_of};
use crate::service::PaymentService;

/// What every request of the layer shares.
pub(crate) struct Shared {
    pub(crate) routes: Vec<(RoutePattern, Route)>,
    pub(crate) facilitators: Facilitators,
    pub(crate) mechanisms: MechanismRegistry<dyn ServerMechanism>,
    pub(crate) hooks: Arc<dyn PaymentHooks>,
    pub(crate) paywall: Option<Paywall>,
    pub(crate) codec: Codec,
    /// Set once the routes were checked against the facilitators.
    pub(crate) initialized: AtomicBool,
    /// Held while checking, so concurrent first requests check once.
    pub(crate) initializing: Mutex<()>,
    /// Per route: the requirements of a fixed route, with the `/supported` generation they were
    /// built from.
    pub(crate) built: Vec<std::sync::RwLock<Option<BuiltRequirements>>>,
    /// Per route: the last plain challenge of a fixed route, with the generation and resource
    /// URL it was encoded for.
    pub(crate) challenges: Vec<std::sync::RwLock<Option<CachedChallenge>>>,
}

/// A fixed route's requirements and the `/supported` generation they were built from.
pub(crate) type BuiltRequirements = (u64, Arc<Vec<PaymentRequirements>>);

/// An encoded `PAYMENT-REQUIRED` value and what it was made from.
pub(crate) struct CachedChallenge {
    pub(crate) generation: u64,
    pub(crate) url: String,
    pub(crate) header: http::HeaderValue,
}

impl Shared {
    /// The first route matching the request.
    pub(crate) fn route_for(&self, method: &str, path: &str) -> Option<usize> {
        if self.routes.is_empty() {
            return None;
        }
        let path = normalised_request_path(path);
        let segments = segments_of(&path);
        self.routes
            .iter()
            .position(|(pattern, _)| pattern.matches_segments(method, &segments))
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
        for (pattern, route) in &self.routes {
            for option in &route.options {
                let network = option.network.to_string();
                if self
                    .mechanisms
                    .find(2, &option.scheme, &option.network)
                    .is_none()
                {
                    problems.push((
                        pattern.to_string(),
                        ConfigError::MissingScheme {
                            scheme: option.scheme.clone(),
                            network,
                        },
                    ));
                    continue;
                }
                let offered = self
                    .facilitators
                    .kind(2, option.network.as_str(), &option.scheme)
                    .await
                    .map_err(ConfigError::FacilitatorUnavailable)?;
                if offered.is_none() {
                    problems.push((
                        pattern.to_string(),
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

/// A tower layer charging for the configured routes. Cheap to clone.
#[derive(Clone)]
pub struct PaymentLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for PaymentLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentLayer")
            .field(
                "routes",
                &self
                    .shared
                    .routes
                    .iter()
                    .map(|(pattern, _)| pattern.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("facilitators", &self.shared.facilitators)
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
        self.shared.initialize().await
    }
}

impl<S> Layer<S> for PaymentLayer {
    type Service = PaymentService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaymentService::new(inner, self.shared.clone())
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
    /// Adds a facilitator; earlier ones take precedence for the kinds they list.
    pub fn facilitator(mut self, facilitator: impl Facilitator + 'static) -> Self {
        self.facilitators.push(Arc::new(facilitator));
        self
    }

    /// Adds a shared facilitator.
    pub fn facilitator_arc(mut self, facilitator: Arc<dyn Facilitator>) -> Self {
        self.facilitators.push(facilitator);
        self
    }

    /// Registers the server side of a scheme for `networks` (`eip155:*`, ...).
    pub fn mechanism(
        mut self,
        networks: NetworkPattern,
        mechanism: Arc<dyn ServerMechanism>,
    ) -> Self {
        let scheme = mechanism.scheme().to_string();
        self.mechanisms.register(2, scheme, networks, mechanism);
        self
    }

    /// Prices the requests matching `pattern` (`"GET /weather"`, `"/api/*"`, `"POST /items/:id"`).
    /// The first matching route wins.
    pub fn route(mut self, pattern: &str, route: Route) -> Self {
        self.routes.push((pattern.to_string(), route));
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
            if route.streaming && route.settle_mode != SettleMode::BeforeHandler {
                return Err(ConfigError::StreamingSettlesAfter { route: text });
            }
            routes.push((pattern, route));
        }
        let mut facilitators = Facilitators::new(self.facilitators);
        if let Some(ttl) = self.supported_ttl {
            facilitators = facilitators.with_ttl(ttl);
        }
        let built = routes
            .iter()
            .map(|_| std::sync::RwLock::new(None))
            .collect();
        let challenges = routes
            .iter()
            .map(|_| std::sync::RwLock::new(None))
            .collect();
        Ok(PaymentLayer {
            shared: Arc::new(Shared {
                built,
                challenges,
                routes,
                facilitators,
                mechanisms: self.mechanisms,
                hooks: self.hooks,
                paywall: self.paywall,
                codec: self.codec,
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
