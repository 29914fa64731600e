//! What a priced route asks: its payment options and how it is served.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use t402_core::{BoxError, Network, Price, wire::JsonObject};

/// Computes a value from the request (a price that depends on a query parameter, a payee per
/// tenant). An `Err` is a server error: the request gets 500 and the handler is not called.
pub type RequestFn<T> = Arc<dyn Fn(&Parts) -> Result<T, BoxError> + Send + Sync>;

/// A value fixed in the configuration or computed per request.
#[derive(Clone)]
#[non_exhaustive]
pub enum Dynamic<T> {
    /// The same for every request.
    Fixed(T),
    /// Computed from the request's method, URI and headers.
    PerRequest(RequestFn<T>),
}

impl<T: fmt::Debug> fmt::Debug for Dynamic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(value) => value.fmt(f),
            Self::PerRequest(_) => f.write_str("<computed per request>"),
        }
    }
}

impl<T: Clone> Dynamic<T> {
    /// The value for this request.
    pub fn resolve(&self, parts: &Parts) -> Result<T, BoxError> {
        match self {
            Self::Fixed(value) => Ok(value.clone()),
            Self::PerRequest(compute) => compute(parts),
        }
    }
}

/// The default `maxTimeoutSeconds` (the reference server's).
pub const DEFAULT_MAX_TIMEOUT_SECONDS: u64 = 300;

/// One way to pay for a route: scheme, network, price, payee.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaymentOption {
    /// The scheme (`exact`, `upto`).
    pub scheme: String,
    /// The network.
    pub network: Network,
    /// The price: money (`"$0.01"`) or an amount of a token.
    pub price: Dynamic<Price>,
    /// Who is paid.
    pub pay_to: Dynamic<String>,
    /// How long a signed payment stays valid.
    pub max_timeout_seconds: u64,
    /// Fields merged over the scheme's own `extra`.
    pub extra: Option<JsonObject>,
    /// The asset's decimals, for showing the amount in token units when the scheme does not
    /// know the asset (a token outside the default table).
    pub decimals: Option<u8>,
}

impl PaymentOption {
    /// An option paying `price` to `pay_to` with `scheme` on `network`.
    pub fn new(
        scheme: impl Into<String>,
        network: Network,
        price: Price,
        pay_to: impl Into<String>,
    ) -> Self {
        Self {
            scheme: scheme.into(),
            network,
            price: Dynamic::Fixed(price),
            pay_to: Dynamic::Fixed(pay_to.into()),
            max_timeout_seconds: DEFAULT_MAX_TIMEOUT_SECONDS,
            extra: None,
            decimals: None,
        }
    }

    /// Scheme `exact` paying `price` to `pay_to` on `network`.
    pub fn exact(network: Network, price: Price, pay_to: impl Into<String>) -> Self {
        Self::new("exact", network, price, pay_to)
    }

    /// Computes the price from the request.
    #[must_use]
    pub fn price_from<E: Into<BoxError>>(
        mut self,
        compute: impl Fn(&Parts) -> Result<Price, E> + Send + Sync + 'static,
    ) -> Self {
        self.price = Dynamic::PerRequest(Arc::new(move |parts| compute(parts).map_err(Into::into)));
        self
    }

    /// Computes the payee from the request.
    #[must_use]
    pub fn pay_to_from<E: Into<BoxError>>(
        mut self,
        compute: impl Fn(&Parts) -> Result<String, E> + Send + Sync + 'static,
    ) -> Self {
        self.pay_to =
            Dynamic::PerRequest(Arc::new(move |parts| compute(parts).map_err(Into::into)));
        self
    }

    /// Sets `maxTimeoutSeconds`.
    #[must_use]
    pub fn max_timeout_seconds(mut self, seconds: u64) -> Self {
        self.max_timeout_seconds = seconds;
        self
    }

    /// Sets the asset's decimals, used to show amounts in token units.
    #[must_use]
    pub fn decimals(mut self, decimals: u8) -> Self {
        self.decimals = Some(decimals);
        self
    }

    /// Sets fields merged over the scheme's `extra`.
    #[must_use]
    pub fn extra(mut self, extra: JsonObject) -> Self {
        self.extra = Some(extra);
        self
    }
}

/// When the payment is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SettleMode {
    /// After the handler answered with a status below 400; its response is held until then
    /// (the default).
    #[default]
    AfterHandler,
    /// Before the handler runs; its response then streams through. Required for streaming
    /// routes.
    BeforeHandler,
    /// Verified before the handler, which counts usage on the request's
    /// [`Meter`](crate::Meter) while its response streams; what was counted is settled when
    /// the stream ends (or the client leaves), and the stream ends at the ceiling. For `upto`
    /// offers; see [`Route::metered`].
    Metered,
}

/// The default limit on a buffered handler response.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// A priced route.
#[derive(Debug, Clone)]
pub struct Route {
    pub(crate) options: Vec<PaymentOption>,
    pub(crate) description: String,
    pub(crate) mime_type: String,
    pub(crate) resource: Option<String>,
    pub(crate) settle_mode: SettleMode,
    pub(crate) streaming: bool,
    pub(crate) max_buffered_bytes: usize,
}

impl Route {
    /// Whether the route's requirements are the same for every request (no computed price or
    /// payee), so they can be built once per `/supported` answer.
    pub(crate) fn is_fixed(&self) -> bool {
        self.options.iter().all(|option| {
            matches!(option.price, Dynamic::Fixed(_)) && matches!(option.pay_to, Dynamic::Fixed(_))
        })
    }

    /// A route paid by `option`.
    pub fn new(option: PaymentOption) -> Self {
        Self {
            options: vec![option],
            description: String::new(),
            mime_type: String::new(),
            resource: None,
            settle_mode: SettleMode::default(),
            streaming: false,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }

    /// Adds another way to pay.
    #[must_use]
    pub fn or(mut self, option: PaymentOption) -> Self {
        self.options.push(option);
        self
    }

    /// Sets the description shown to payers.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the MIME type of what is sold.
    #[must_use]
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = mime_type.into();
        self
    }

    /// Sets the resource URL (default: the request's URL).
    #[must_use]
    pub fn resource(mut self, url: impl Into<String>) -> Self {
        self.resource = Some(url.into());
        self
    }

    /// Sets when the payment is settled.
    #[must_use]
    pub fn settle(mut self, mode: SettleMode) -> Self {
        self.settle_mode = mode;
        self
    }

    /// Marks the route as streaming (SSE, chunked): its response is never held, so it must
    /// settle before the handler ([`SettleMode::BeforeHandler`]); building the layer refuses
    /// anything else.
    #[must_use]
    pub fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    /// Marks the route as metered streaming ([`SettleMode::Metered`]): the handler finds a
    /// [`Meter`](crate::Meter) in its request extensions and adds usage as it streams; the
    /// receipt ends the stream (`event: payment-response` for server-sent events, else a
    /// `payment-response` trailer).
    #[must_use]
    pub fn metered(mut self) -> Self {
        self.settle_mode = SettleMode::Metered;
        self.streaming = true;
        self
    }

    /// Sets the limit on the held response of a settle-after route (default 8 MiB). A larger
    /// response is not sent and not paid for.
    #[must_use]
    pub fn max_buffered_bytes(mut self, limit: usize) -> Self {
        self.max_buffered_bytes = limit;
        self
    }
}
