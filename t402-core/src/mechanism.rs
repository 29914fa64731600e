//! The mechanism traits: what a scheme on a network family must do in each role.
//!
//! A *mechanism* is one scheme (`exact`, `upto`) on one network family (`eip155:*`, `solana:*`).
//! It plays up to three roles, each a trait here:
//!
//! - [`ClientMechanism`]: create (sign) a payment payload for chosen requirements;
//! - [`ServerMechanism`]: turn a route's price into requirements and enrich them with what the
//!   facilitator's `/supported` kind says (fee payer, facilitator address, ...);
//! - [`FacilitatorMechanism`]: verify and settle payments.
//!
//! Chain crates (`t402-evm`, `t402-svm`, `t402-upto`) implement them; t402-core only defines them,
//! so it carries no chain, runtime or HTTP dependency. The futures are boxed so mechanisms can be
//! stored as trait objects in a [`MechanismRegistry`](crate::MechanismRegistry).

use std::sync::Arc;

use crate::error::{BoxError, BoxFuture, FacilitatorError};
use crate::health::ChainHealth;
use crate::network::{Network, NetworkPattern};
use crate::price::{AssetAmount, Price, PriceError};
use crate::reason::Reason;
use crate::settlement::{PaymentId, SendJournal};
use crate::wire::{
    JsonObject, PaymentPayload, PaymentRequirements, SettleRequest, SettleResponse, SupportedKind,
    VerifyRequest, VerifyResponse,
};

/// What a client mechanism produced: the scheme payload and any extension data to send with it.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SchemePayload {
    /// The scheme-specific `payload` object.
    pub payload: JsonObject,
    /// Extension data the scheme adds (merged over the server's declarations).
    pub extensions: Option<JsonObject>,
}

impl SchemePayload {
    /// A payload with no extensions.
    pub fn new(payload: JsonObject) -> Self {
        Self {
            payload,
            extensions: None,
        }
    }
}

/// Why a mechanism could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MechanismError {
    /// The requirements lack something the scheme needs (for EVM: `extra.name`/`extra.version`).
    #[error("requirements are not usable: {message}")]
    InvalidRequirements {
        /// The protocol reason.
        reason: Reason,
        /// What is missing or wrong.
        message: String,
    },
    /// The network is not one this mechanism serves.
    #[error("network {0} is not supported by this mechanism")]
    UnsupportedNetwork(Network),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[source] BoxError),
    /// A chain read the mechanism needed failed.
    #[error("chain access failed: {0}")]
    Chain(#[source] BoxError),
    /// A price could not be converted.
    #[error(transparent)]
    Price(#[from] PriceError),
}

impl MechanismError {
    /// The protocol reason for this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidRequirements { reason, .. } => reason.clone(),
            Self::UnsupportedNetwork(_) => Reason::InvalidNetwork,
            Self::Signing(_) => Reason::T402SigningFailed,
            Self::Chain(_) => Reason::UnexpectedVerifyError,
            Self::Price(_) => Reason::InvalidPaymentRequirements,
        }
    }
}

/// The paying side of a mechanism: signs payments.
pub trait ClientMechanism: Send + Sync + 'static {
    /// The scheme (`exact`, `upto`).
    fn scheme(&self) -> &str;

    /// Creates the scheme payload paying `requirements` (always in v2 form; `version` says which
    /// protocol version the payment will be sent as). `extensions` are the server's extension
    /// declarations.
    fn create_payload<'a>(
        &'a self,
        version: u32,
        requirements: &'a PaymentRequirements,
        extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>>;
}

/// The selling side of a mechanism: builds requirements.
pub trait ServerMechanism: Send + Sync + 'static {
    /// The scheme (`exact`, `upto`).
    fn scheme(&self) -> &str;

    /// Converts a price into an asset amount on `network`.
    fn parse_price(&self, price: &Price, network: &Network) -> Result<AssetAmount, PriceError>;

    /// Completes requirements with what the facilitator's supported kind provides.
    fn enhance_requirements(
        &self,
        requirements: PaymentRequirements,
        kind: &SupportedKind,
        facilitator_extensions: &[String],
    ) -> Result<PaymentRequirements, MechanismError>;

    /// The decimals of `asset` on `network`, when known (used to display amounts).
    fn asset_decimals(&self, asset: &str, network: &Network) -> Option<u8> {
        crate::asset::known_decimals(network, asset)
    }

    /// The extensions the challenge declares for `requirements` (the 402's top-level
    /// `extensions`), given the facilitator's `/supported` extensions (EVM: the Permit2 gas
    /// sponsoring the facilitator settles).
    fn extension_declarations(
        &self,
        _requirements: &PaymentRequirements,
        _facilitator_extensions: &[String],
    ) -> Option<JsonObject> {
        None
    }

    /// The identity of `payment` (paying `requirements`), the same however its bytes are
    /// re-encoded: the replay guard's key, computed on every paid request, so without copying
    /// the payment. `None` when the payload does not name one.
    fn payment_id(
        &self,
        _payment: &PaymentPayload,
        _requirements: &PaymentRequirements,
    ) -> Option<PaymentId> {
        None
    }
}

/// The facilitator side of a mechanism: verifies and settles.
///
/// Mechanisms answer failed checks with `Ok` values (`isValid: false`, `success: false`) carrying
/// a reason; `Err` is for failures to check at all (a chain node that does not answer, ...).
pub trait FacilitatorMechanism: Send + Sync + 'static {
    /// The scheme (`exact`, `upto`).
    fn scheme(&self) -> &str;

    /// The network family the mechanism serves (`eip155:*`), used to group signer addresses in
    /// `/supported`.
    fn family(&self) -> NetworkPattern;

    /// The `extra` of this mechanism's `/supported` kind on `network` (SVM: `feePayer`).
    fn kind_extra(&self, _network: &Network) -> Option<JsonObject> {
        None
    }

    /// The addresses this mechanism signs or pays fees with on `network`.
    fn signers(&self, network: &Network) -> Vec<String>;

    /// The extension keys this mechanism settles (listed in `/supported`; EVM: the Permit2
    /// gas-sponsoring extensions).
    fn extensions(&self) -> Vec<String> {
        Vec::new()
    }

    /// The identity of the payment in `request`, the same however its bytes are re-encoded
    /// (the settlement record's key); `None` when the payload does not name one.
    fn payment_id(&self, _request: &VerifyRequest) -> Option<PaymentId> {
        None
    }

    /// Verifies a payment against requirements (always in v2 form).
    fn verify<'a>(
        &'a self,
        request: &'a VerifyRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>>;

    /// Re-verifies and settles a payment (always in v2 form).
    fn settle<'a>(
        &'a self,
        request: &'a SettleRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>>;

    /// [`settle`](Self::settle), writing the transaction to `journal` after signing it and
    /// before broadcasting it (claim before send). A journal that cannot be written stops the
    /// settlement before anything is broadcast. The default does not journal.
    fn settle_journaled<'a>(
        &'a self,
        request: &'a SettleRequest,
        journal: SendJournal<'a>,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        let _ = journal;
        self.settle(request)
    }

    /// The final answer of `transaction`, sent earlier to settle `request` (by this process or
    /// another): `Ok(None)` while its outcome is not known yet. Nothing is sent. The default
    /// knows no transaction.
    fn follow<'a>(
        &'a self,
        request: &'a SettleRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        let _ = (request, transaction);
        Box::pin(async { Ok(None) })
    }

    /// Whether the node of `network` answers, and what each signer holds of its native token.
    /// The default checks nothing (up, no signers).
    fn health<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, ChainHealth> {
        Box::pin(async move { ChainHealth::up(network.to_string(), Vec::new()) })
    }
}

// Shared and boxed mechanisms are mechanisms, so builders take `impl Trait` or `Arc<dyn Trait>`
// through one method.

impl<M: ClientMechanism + ?Sized> ClientMechanism for Arc<M> {
    fn scheme(&self) -> &str {
        (**self).scheme()
    }
    fn create_payload<'a>(
        &'a self,
        version: u32,
        requirements: &'a PaymentRequirements,
        extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>> {
        (**self).create_payload(version, requirements, extensions)
    }
}

impl<M: ClientMechanism + ?Sized> ClientMechanism for Box<M> {
    fn scheme(&self) -> &str {
        (**self).scheme()
    }
    fn create_payload<'a>(
        &'a self,
        version: u32,
        requirements: &'a PaymentRequirements,
        extensions: Option<&'a JsonObject>,
    ) -> BoxFuture<'a, Result<SchemePayload, MechanismError>> {
        (**self).create_payload(version, requirements, extensions)
    }
}

macro_rules! forward_server_mechanism {
    ($wrapper:ident) => {
        impl<M: ServerMechanism + ?Sized> ServerMechanism for $wrapper<M> {
            fn scheme(&self) -> &str {
                (**self).scheme()
            }
            fn parse_price(
                &self,
                price: &Price,
                network: &Network,
            ) -> Result<AssetAmount, PriceError> {
                (**self).parse_price(price, network)
            }
            fn enhance_requirements(
                &self,
                requirements: PaymentRequirements,
                kind: &SupportedKind,
                facilitator_extensions: &[String],
            ) -> Result<PaymentRequirements, MechanismError> {
                (**self).enhance_requirements(requirements, kind, facilitator_extensions)
            }
            fn asset_decimals(&self, asset: &str, network: &Network) -> Option<u8> {
                (**self).asset_decimals(asset, network)
            }
            fn extension_declarations(
                &self,
                requirements: &PaymentRequirements,
                facilitator_extensions: &[String],
            ) -> Option<JsonObject> {
                (**self).extension_declarations(requirements, facilitator_extensions)
            }
            fn payment_id(
                &self,
                payment: &PaymentPayload,
                requirements: &PaymentRequirements,
            ) -> Option<PaymentId> {
                (**self).payment_id(payment, requirements)
            }
        }
    };
}

macro_rules! forward_facilitator_mechanism {
    ($wrapper:ident) => {
        impl<M: FacilitatorMechanism + ?Sized> FacilitatorMechanism for $wrapper<M> {
            fn scheme(&self) -> &str {
                (**self).scheme()
            }
            fn family(&self) -> NetworkPattern {
                (**self).family()
            }
            fn kind_extra(&self, network: &Network) -> Option<JsonObject> {
                (**self).kind_extra(network)
            }
            fn signers(&self, network: &Network) -> Vec<String> {
                (**self).signers(network)
            }
            fn extensions(&self) -> Vec<String> {
                (**self).extensions()
            }
            fn payment_id(&self, request: &VerifyRequest) -> Option<PaymentId> {
                (**self).payment_id(request)
            }
            fn verify<'a>(
                &'a self,
                request: &'a VerifyRequest,
            ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
                (**self).verify(request)
            }
            fn settle<'a>(
                &'a self,
                request: &'a SettleRequest,
            ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
                (**self).settle(request)
            }
            fn settle_journaled<'a>(
                &'a self,
                request: &'a SettleRequest,
                journal: SendJournal<'a>,
            ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
                (**self).settle_journaled(request, journal)
            }
            fn follow<'a>(
                &'a self,
                request: &'a SettleRequest,
                transaction: &'a str,
            ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
                (**self).follow(request, transaction)
            }
            fn health<'a>(&'a self, network: &'a Network) -> BoxFuture<'a, ChainHealth> {
                (**self).health(network)
            }
        }
    };
}

forward_server_mechanism!(Arc);
forward_server_mechanism!(Box);
forward_facilitator_mechanism!(Arc);
forward_facilitator_mechanism!(Box);
