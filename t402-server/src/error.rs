//! Configuration errors of the payment layer.

use t402_core::{FacilitatorError, Reason};

use crate::route::RoutePatternError;

/// Why the payment layer cannot serve its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A route pattern does not parse.
    #[error("route `{pattern}`: {source}")]
    InvalidPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: RoutePatternError,
    },
    /// A streaming route settles after its handler: its content would reach the client before
    /// the payment is settled.
    #[error(
        "route `{route}` streams, so it must settle before its handler (SettleMode::BeforeHandler)"
    )]
    StreamingSettlesAfter {
        /// The route pattern.
        route: String,
    },
    /// A route has no payment option.
    #[error("route `{route}` has no payment option")]
    NoPaymentOption {
        /// The route pattern.
        route: String,
    },
    /// No facilitator was configured.
    #[error("no facilitator is configured")]
    NoFacilitator,
    /// No server mechanism is registered for a route's scheme and network.
    #[error("missing_scheme: no server mechanism for scheme `{scheme}` on {network}")]
    MissingScheme {
        /// The scheme.
        scheme: String,
        /// The network.
        network: String,
    },
    /// No facilitator supports a route's scheme and network.
    #[error("missing_facilitator: no facilitator supports scheme `{scheme}` on {network}")]
    MissingFacilitator {
        /// The scheme.
        scheme: String,
        /// The network.
        network: String,
    },
    /// The facilitators could not be asked what they support.
    #[error("facilitators unavailable: {0}")]
    FacilitatorUnavailable(#[source] FacilitatorError),
    /// Several routes are misconfigured.
    #[error("{}", .0.iter().map(|(route, err)| format!("route `{route}`: {err}")).collect::<Vec<_>>().join("; "))]
    Routes(Vec<(String, ConfigError)>),
}

impl ConfigError {
    /// The protocol reason of this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::MissingScheme { .. } => Reason::MissingScheme,
            Self::MissingFacilitator { .. } => Reason::MissingFacilitator,
            Self::FacilitatorUnavailable(err) => err.reason(),
            Self::Routes(errors) => errors
                .first()
                .map(|(_, err)| err.reason())
                .unwrap_or(Reason::MissingFacilitator),
            _ => Reason::InvalidPaymentRequirements,
        }
    }
}
