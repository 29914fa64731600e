//! The facilitator interface and an in-process facilitator that dispatches to mechanisms.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{BoxFuture, FacilitatorError};
use crate::health::ChainHealth;
use crate::mechanism::FacilitatorMechanism;
use crate::network::{Network, NetworkError, NetworkPattern};
use crate::reason::Reason;
use crate::registry::MechanismRegistry;
use crate::settlement::SendJournal;
use crate::version::{ProtocolVersion, VersionKey};
use crate::wire::{
    FacilitatorRequest, SettleResponse, SupportedKind, SupportedResponse, VerifyRequest,
    VerifyResponse,
};

/// Verifies and settles payments, and says what it supports: a remote facilitator over HTTP, or
/// one in this process.
pub trait Facilitator: Send + Sync {
    /// Checks a payment without moving funds.
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>>;

    /// Re-checks and settles a payment on chain.
    fn settle<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>>;

    /// What the facilitator verifies and settles.
    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>>;

    /// [`settle`](Self::settle), writing the settlement transaction to `journal` before it is
    /// broadcast (see [`FacilitatorMechanism::settle_journaled`]). A facilitator that broadcasts
    /// nothing itself (a remote one) does not journal: the default.
    fn settle_journaled<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
        journal: SendJournal<'a>,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        let _ = journal;
        self.settle(request)
    }

    /// The final answer of `transaction`, sent earlier to settle `request`; `Ok(None)` while its
    /// outcome is not known (see [`FacilitatorMechanism::follow`]). The default knows none.
    fn follow<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        let _ = (request, transaction);
        Box::pin(async { Ok(None) })
    }

    /// How the chains this facilitator settles on are doing (see [`ChainHealth`]). The default
    /// (a remote facilitator) reports none.
    fn health(&self) -> BoxFuture<'_, Vec<ChainHealth>> {
        Box::pin(async { Vec::new() })
    }

    /// The identity of the payment in `request`, as the mechanism settling it names it (for
    /// logs and settlement records); `None` when unknown. The default knows none.
    fn payment_id(&self, request: &FacilitatorRequest) -> Option<crate::PaymentId> {
        let _ = request;
        None
    }
}

macro_rules! forward_facilitator {
    ($wrapper:ident) => {
        impl<F: Facilitator + ?Sized> Facilitator for $wrapper<F> {
            fn verify<'a>(
                &'a self,
                request: &'a FacilitatorRequest,
            ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
                (**self).verify(request)
            }
            fn settle<'a>(
                &'a self,
                request: &'a FacilitatorRequest,
            ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
                (**self).settle(request)
            }
            fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
                (**self).supported()
            }
            fn settle_journaled<'a>(
                &'a self,
                request: &'a FacilitatorRequest,
                journal: SendJournal<'a>,
            ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
                (**self).settle_journaled(request, journal)
            }
            fn follow<'a>(
                &'a self,
                request: &'a FacilitatorRequest,
                transaction: &'a str,
            ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
                (**self).follow(request, transaction)
            }
            fn health(&self) -> BoxFuture<'_, Vec<ChainHealth>> {
                (**self).health()
            }
            fn payment_id(&self, request: &FacilitatorRequest) -> Option<crate::PaymentId> {
                (**self).payment_id(request)
            }
        }
    };
}

forward_facilitator!(Arc);
forward_facilitator!(Box);

/// A request in v2 form, and the v1 network name to answer with when it came as v1.
type Routed<'a> = (Cow<'a, VerifyRequest>, Option<String>);
/// Why a request could not be put in v2 form: reason, message, and the network it named.
type RouteFailure = (Reason, String, String);

#[derive(Clone)]
struct Listed {
    version: u32,
    scheme: String,
    network: Network,
    mechanism: Arc<dyn FacilitatorMechanism>,
}

/// A facilitator in this process: it dispatches each request to the mechanism registered for the
/// payment's (protocol version, scheme, network) and derives its `/supported` answer from the
/// registrations.
///
/// v1 requests are converted to v2 form before they reach a mechanism, and the answer's network
/// is written back as the v1 name.
#[derive(Clone, Default)]
pub struct LocalFacilitator {
    registry: MechanismRegistry<dyn FacilitatorMechanism>,
    listed: Vec<Listed>,
    extensions: Vec<String>,
    version_key: Option<VersionKey>,
}

impl fmt::Debug for LocalFacilitator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFacilitator")
            .field("registry", &self.registry)
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

impl LocalFacilitator {
    /// A facilitator with no mechanisms.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(
        mut self,
        version: u32,
        networks: impl IntoIterator<Item = Network>,
        mechanism: Arc<dyn FacilitatorMechanism>,
    ) -> Self {
        for network in networks {
            let scheme = mechanism.scheme().to_owned();
            let pattern = NetworkPattern::Exact(network.clone());
            if self
                .registry
                .register(version, scheme.clone(), pattern, Arc::clone(&mechanism))
            {
                self.listed.push(Listed {
                    version,
                    scheme,
                    network,
                    mechanism: Arc::clone(&mechanism),
                });
            }
        }
        self
    }

    /// Serves `mechanism` for protocol v2 on each of `networks`.
    #[must_use]
    pub fn register(
        self,
        networks: impl IntoIterator<Item = Network>,
        mechanism: Arc<dyn FacilitatorMechanism>,
    ) -> Self {
        self.add(crate::PROTOCOL_VERSION, networks, mechanism)
    }

    /// Serves `mechanism` for protocol v1 on each of `networks` (which must have v1 names).
    pub fn register_v1(
        self,
        networks: impl IntoIterator<Item = Network>,
        mechanism: Arc<dyn FacilitatorMechanism>,
    ) -> Result<Self, NetworkError> {
        let networks: Vec<Network> = networks.into_iter().collect();
        for network in &networks {
            network.require_legacy_name()?;
        }
        Ok(self.add(1, networks, mechanism))
    }

    /// Lists an extension key in `/supported`.
    #[must_use]
    pub fn with_extension(mut self, key: impl Into<String>) -> Self {
        self.extensions.push(key.into());
        self
    }

    /// The key naming the version in `/supported` kinds (default: both keys).
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = Some(key);
        self
    }

    /// The `/supported` answer: one kind per registered (version, scheme, network), and the
    /// signer addresses of the v2 mechanisms grouped by network family.
    pub fn supported_response(&self) -> SupportedResponse {
        let key = self.version_key.unwrap_or(VersionKey::Both);
        let mut signers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let kinds = self
            .listed
            .iter()
            .map(|entry| {
                let network = if entry.version == 1 {
                    entry
                        .network
                        .legacy_name()
                        .unwrap_or(entry.network.as_str())
                        .to_owned()
                } else {
                    let family = signers
                        .entry(entry.mechanism.family().to_string())
                        .or_default();
                    for signer in entry.mechanism.signers(&entry.network) {
                        if !family.contains(&signer) {
                            family.push(signer);
                        }
                    }
                    entry.network.to_string()
                };
                let kind = SupportedKind::new(
                    ProtocolVersion::new(entry.version, key),
                    entry.scheme.clone(),
                    network,
                );
                match entry.mechanism.kind_extra(&entry.network) {
                    Some(extra) => kind.with_extra(extra),
                    None => kind,
                }
            })
            .collect();
        let mut extensions = self.extensions.clone();
        for entry in &self.listed {
            for key in entry.mechanism.extensions() {
                if !extensions.contains(&key) {
                    extensions.push(key);
                }
            }
        }
        SupportedResponse {
            kinds,
            extensions,
            signers,
            unknown: Default::default(),
        }
    }

    /// The v2 request to hand a mechanism, and the v1 network name to answer with (if v1).
    fn route(request: &FacilitatorRequest) -> Result<Routed<'_>, RouteFailure> {
        match request {
            FacilitatorRequest::V2(request) => Ok((Cow::Borrowed(request), None)),
            FacilitatorRequest::V1(v1) => {
                let network = v1.payment_requirements.network.clone();
                v1.to_v2()
                    .map(|v2| (Cow::Owned(v2), Some(network.clone())))
                    .map_err(|err| (Reason::InvalidNetwork, err.to_string(), network))
            }
        }
    }

    /// The identity of the payment in `request`, as its mechanism names it (the settlement
    /// record's key); `None` when no mechanism serves it or the payload names none.
    pub fn payment_id(&self, request: &FacilitatorRequest) -> Option<crate::PaymentId> {
        let (v2, _) = Self::route(request).ok()?;
        self.mechanism_for(request.version(), &v2)?.payment_id(&v2)
    }

    fn mechanism_for(
        &self,
        version: u32,
        request: &VerifyRequest,
    ) -> Option<Arc<dyn FacilitatorMechanism>> {
        let requirements = &request.payment_requirements;
        self.registry
            .find(version, &requirements.scheme, &requirements.network)
    }

    fn unsupported_message(version: u32, request: &VerifyRequest) -> String {
        let requirements = &request.payment_requirements;
        format!(
            "no mechanism for scheme `{}` on {} (protocol v{version})",
            requirements.scheme, requirements.network
        )
    }
}

impl Facilitator for LocalFacilitator {
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(async move {
            let version = request.version();
            let (v2, _) = match Self::route(request) {
                Ok(routed) => routed,
                Err((reason, message, _)) => {
                    return Ok(VerifyResponse::invalid(reason, None).with_message(message));
                }
            };
            let Some(mechanism) = self.mechanism_for(version, &v2) else {
                return Ok(VerifyResponse::invalid(Reason::UnsupportedScheme, None)
                    .with_message(Self::unsupported_message(version, &v2)));
            };
            mechanism.verify(&v2).await
        })
    }

    fn settle<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        self.settle_journaled(request, SendJournal::none())
    }

    fn settle_journaled<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
        journal: SendJournal<'a>,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(async move {
            let version = request.version();
            let (v2, v1_network) = match Self::route(request) {
                Ok(routed) => routed,
                Err((reason, message, network)) => {
                    return Ok(SettleResponse::failure(reason, network, None).with_message(message));
                }
            };
            let Some(mechanism) = self.mechanism_for(version, &v2) else {
                let network =
                    v1_network.unwrap_or_else(|| v2.payment_requirements.network.to_string());
                return Ok(
                    SettleResponse::failure(Reason::UnsupportedScheme, network, None)
                        .with_message(Self::unsupported_message(version, &v2)),
                );
            };
            let mut response = mechanism.settle_journaled(&v2, journal).await?;
            if let Some(network) = v1_network {
                response.network = network;
            }
            Ok(response)
        })
    }

    fn follow<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        Box::pin(async move {
            let version = request.version();
            let Ok((v2, v1_network)) = Self::route(request) else {
                return Ok(None);
            };
            let Some(mechanism) = self.mechanism_for(version, &v2) else {
                return Ok(None);
            };
            let mut followed = mechanism.follow(&v2, transaction).await?;
            if let (Some(response), Some(network)) = (followed.as_mut(), v1_network) {
                response.network = network;
            }
            Ok(followed)
        })
    }

    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async move { Ok(self.supported_response()) })
    }

    fn payment_id(&self, request: &FacilitatorRequest) -> Option<crate::PaymentId> {
        LocalFacilitator::payment_id(self, request)
    }

    fn health(&self) -> BoxFuture<'_, Vec<ChainHealth>> {
        Box::pin(async move {
            // One check per (network, mechanism): the v1 and v2 registrations share both.
            let mut checked: Vec<(&Network, &Arc<dyn FacilitatorMechanism>)> = Vec::new();
            let mut out = Vec::new();
            for listed in &self.listed {
                if checked.iter().any(|(network, mechanism)| {
                    **network == listed.network && Arc::ptr_eq(mechanism, &listed.mechanism)
                }) {
                    continue;
                }
                checked.push((&listed.network, &listed.mechanism));
                out.push(listed.mechanism.health(&listed.network).await);
            }
            out
        })
    }
}
