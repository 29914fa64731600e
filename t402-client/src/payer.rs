//! The transport-free part of paying: read a challenge, choose an offer, sign it, and read what
//! the server said of the payment. [`Client`](crate::Client), the tower layer and the reqwest
//! middleware all pay through a [`Payer`].

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;
use t402_core::codec::{
    Codec, HeaderKind, PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER, PAYMENT_SIGNATURE_HEADER,
    X_PAYMENT_HEADER, X_PAYMENT_RESPONSE_HEADER, encode_header,
};
use t402_core::mechanism::ClientMechanism;
use t402_core::wire::{Accepted, PaymentPayloadV1, PaymentRequiredV1};
use t402_core::{
    MechanismRegistry, NetworkPattern, PROTOCOL_VERSION, PaymentPayload, PaymentRequired,
    PaymentRequirements, Reason,
};

use crate::Receipt;
use crate::error::ClientError;
use crate::hooks::{NoPayHooks, PayDecision, PayHooks};
use crate::ledger::Reservation;
use crate::policy::{Refusal, SpendPolicy};

/// A challenge read from a 402.
#[derive(Debug, Clone)]
pub struct Challenge {
    version: u32,
    /// The offers in v2 form.
    offers: Vec<PaymentRequirements>,
    /// v2: the offers' JSON as sent (echoed verbatim in `accepted`), and the challenge.
    v2: Option<(PaymentRequired, Vec<Value>)>,
    /// v1: the challenge, and for each offer in `offers` its index in the challenge's
    /// `accepts` (offers on networks this client does not know are left out of `offers`).
    v1: Option<(PaymentRequiredV1, Vec<usize>)>,
}

impl Challenge {
    /// A challenge from its JSON (a `PaymentRequired`, v2; or a v1 402 body when its version
    /// is 1), as carriers other than HTTP headers deliver it (MCP tool results).
    pub fn from_json(value: Value) -> Result<Self, ClientError> {
        let malformed = |err: serde_json::Error| ClientError::MalformedChallenge(err.to_string());
        let version = ["x402Version", "t402Version"]
            .iter()
            .find_map(|key| value.get(*key).and_then(Value::as_u64));
        if version == Some(1) {
            let v1: PaymentRequiredV1 = serde_json::from_value(value).map_err(malformed)?;
            return Ok(Self::of_v1(v1));
        }
        let raw_offers = value
            .get("accepts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let required: PaymentRequired = serde_json::from_value(value).map_err(malformed)?;
        Ok(Self {
            version: PROTOCOL_VERSION,
            offers: required.accepts.clone(),
            v2: Some((required, raw_offers)),
            v1: None,
        })
    }

    fn of_v1(v1: PaymentRequiredV1) -> Self {
        let (offers, positions) = v1
            .accepts
            .iter()
            .enumerate()
            .filter_map(|(position, offer)| {
                offer
                    .to_v2()
                    .ok()
                    .map(|(requirements, _)| (requirements, position))
            })
            .unzip();
        Self {
            version: 1,
            offers,
            v2: None,
            v1: Some((v1, positions)),
        }
    }

    /// The protocol version of the challenge.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The offers, in v2 form.
    pub fn offers(&self) -> &[PaymentRequirements] {
        &self.offers
    }

    /// The server's `error` text.
    pub fn error(&self) -> Option<&str> {
        match (&self.v2, &self.v1) {
            (Some((required, _)), _) => required.error.as_deref(),
            (_, Some((v1, _))) => v1.error.as_deref(),
            _ => None,
        }
    }
}

/// A signed payment, in its protocol version's form.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SignedPayment {
    /// Protocol v2.
    V2(Box<PaymentPayload>),
    /// Protocol v1.
    V1(Box<PaymentPayloadV1>),
}

impl SignedPayment {
    /// The payment as JSON (what carriers other than HTTP headers send: MCP's
    /// `_meta["x402/payment"]`).
    pub fn to_json(&self) -> Value {
        match self {
            Self::V2(payment) => serde_json::to_value(payment),
            Self::V1(payment) => serde_json::to_value(payment),
        }
        .expect("a payment serializes")
    }
}

/// A signed payment ready to be sent.
#[derive(Debug)]
pub struct PreparedPayment {
    /// The header to send it in (`PAYMENT-SIGNATURE`, or `X-PAYMENT` for v1).
    pub header_name: &'static str,
    /// The encoded payment.
    pub header_value: HeaderValue,
    /// The payment itself.
    pub payment: SignedPayment,
    /// The offer paid.
    pub offer: PaymentRequirements,
    reservation: Option<Reservation>,
}

impl PreparedPayment {
    /// The payment may have reached the server (the exchange failed midway): its amount stays
    /// counted in the budget.
    pub fn keep_reserved(self) {
        if let Some(reservation) = self.reservation {
            reservation.keep();
        }
    }
}

/// Chooses and signs payments with the registered mechanisms, within a spending policy.
pub struct Payer {
    mechanisms: MechanismRegistry<dyn ClientMechanism>,
    policy: SpendPolicy,
    hooks: Arc<dyn PayHooks>,
    codec: Codec,
}

impl fmt::Debug for Payer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payer")
            .field("mechanisms", &self.mechanisms.registrations().len())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for Payer {
    fn default() -> Self {
        Self::new()
    }
}

impl Payer {
    /// A payer with no mechanism, the default policy and no hooks.
    pub fn new() -> Self {
        Self {
            mechanisms: MechanismRegistry::new(),
            policy: SpendPolicy::default(),
            hooks: Arc::new(NoPayHooks),
            codec: Codec::default(),
        }
    }

    /// Pays with `mechanism` (owned, or shared as an `Arc`) on `networks`, for protocol v2 and
    /// v1.
    #[must_use]
    pub fn mechanism(
        mut self,
        networks: NetworkPattern,
        mechanism: impl ClientMechanism + 'static,
    ) -> Self {
        let scheme = mechanism.scheme().to_owned();
        let mechanism: Arc<dyn ClientMechanism> = Arc::new(mechanism);
        self.mechanisms.register(
            PROTOCOL_VERSION,
            scheme.clone(),
            networks.clone(),
            mechanism.clone(),
        );
        self.mechanisms.register(1, scheme, networks, mechanism);
        self
    }

    /// Sets the spending policy.
    #[must_use]
    pub fn policy(mut self, policy: SpendPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the hooks.
    #[must_use]
    pub fn hooks(mut self, hooks: impl PayHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The spending policy.
    pub fn spend_policy(&self) -> &SpendPolicy {
        &self.policy
    }

    /// Reads the challenge of a 402 (or 412): the `PAYMENT-REQUIRED` header, else a v1 JSON body.
    pub fn read_challenge(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Challenge, ClientError> {
        if let Some(header) = headers.get(PAYMENT_REQUIRED_HEADER) {
            let text = header
                .to_str()
                .map_err(|_| ClientError::MalformedChallenge("header is not ASCII".into()))?;
            let value: Value = self
                .codec
                .decode_header(HeaderKind::PaymentRequired, text)
                .map_err(|err| ClientError::MalformedChallenge(err.to_string()))?;
            let raw_offers = value
                .get("accepts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let required: PaymentRequired = serde_json::from_value(value)
                .map_err(|err| ClientError::MalformedChallenge(err.to_string()))?;
            return Ok(Challenge {
                version: PROTOCOL_VERSION,
                offers: required.accepts.clone(),
                v2: Some((required, raw_offers)),
                v1: None,
            });
        }
        let v1 = self
            .codec
            .decode_v1_body(body)
            .map_err(|err| ClientError::MalformedChallenge(err.to_string()))?;
        Ok(Challenge::of_v1(v1))
    }

    /// Chooses an offer (registered mechanism, policy, preference), asks the before-pay hook,
    /// reserves the budget, and signs. `policy` overrides the payer's own for this request.
    pub async fn prepare(
        &self,
        challenge: &Challenge,
        url: &str,
        policy: Option<&SpendPolicy>,
    ) -> Result<PreparedPayment, ClientError> {
        let policy = policy.unwrap_or(&self.policy);
        let offers = challenge.offers();
        let mut refusals = Vec::new();
        let mut acceptable = Vec::new();
        for (index, offer) in offers.iter().enumerate() {
            if self
                .mechanisms
                .find(challenge.version, &offer.scheme, &offer.network)
                .is_none()
            {
                refusals.push(Refusal {
                    index,
                    reason: format!(
                        "no mechanism for scheme `{}` on {}",
                        offer.scheme, offer.network
                    ),
                });
                continue;
            }
            match policy.check(offer) {
                Ok(()) => acceptable.push(index),
                Err(reason) => refusals.push(Refusal { index, reason }),
            }
        }
        if challenge.version == 1
            && let Some((v1, _)) = &challenge.v1
            && v1.accepts.len() != offers.len()
        {
            refusals.push(Refusal {
                index: offers.len(),
                reason: "some v1 offers name networks this client does not know".into(),
            });
        }
        policy.order(&mut acceptable, offers);
        let Some(&chosen) = acceptable.first() else {
            return Err(ClientError::NoAcceptableOffer { refusals });
        };
        let offer = &offers[chosen];
        if let PayDecision::Decline(reason) = self.hooks.before_pay(offer, url).await {
            return Err(ClientError::Declined(reason));
        }
        let reservation = match policy.budget_ledger() {
            Some(budget) => {
                let decimals =
                    policy
                        .decimals_of(offer)
                        .ok_or_else(|| ClientError::NoAcceptableOffer {
                            refusals: vec![Refusal {
                                index: chosen,
                                reason: "the budget cannot count an asset of unknown decimals"
                                    .into(),
                            }],
                        })?;
                Some(budget.reserve(offer.amount, decimals)?)
            }
            None => None,
        };
        let mechanism = self
            .mechanisms
            .find(challenge.version, &offer.scheme, &offer.network)
            .expect("checked above");
        let extensions = challenge
            .v2
            .as_ref()
            .and_then(|(required, _)| required.extensions.as_ref());
        let signed = mechanism
            .create_payload(challenge.version, offer, extensions)
            .await
            .map_err(ClientError::Signing)?;
        let (header_name, encoded, payment) = match (&challenge.v2, &challenge.v1) {
            (Some((required, raw_offers)), _) => {
                let accepted = raw_offers
                    .get(chosen)
                    .cloned()
                    .and_then(|raw| Accepted::from_raw(raw).ok())
                    .unwrap_or_else(|| Accepted::from_requirements(offer.clone()));
                // Answered in the challenge's version key (x402Version when it has both).
                let mut payment = PaymentPayload::new(accepted, signed.payload)
                    .with_resource(required.resource.clone())
                    .with_version_key(required.version_key.reply_key());
                // The scheme's extension data merged over the server's declarations, as the
                // reference client does (a server checks the declared fields are echoed).
                payment.extensions = match (required.extensions.clone(), signed.extensions) {
                    (Some(mut declared), Some(added)) => {
                        t402_core::json::merge_objects(&mut declared, added);
                        Some(declared)
                    }
                    (declared, added) => added.or(declared),
                };
                let encoded = encode_header(&payment);
                (
                    PAYMENT_SIGNATURE_HEADER,
                    encoded,
                    SignedPayment::V2(Box::new(payment)),
                )
            }
            (_, Some((v1, positions))) => {
                // `chosen` indexes the known offers; the v1 network name is the one of the
                // same offer in the challenge as sent.
                let network = v1.accepts[positions[chosen]].network.clone();
                let payment = PaymentPayloadV1::new(offer.scheme.clone(), network, signed.payload)
                    .with_version_key(v1.version_key.reply_key());
                let encoded = encode_header(&payment);
                (
                    X_PAYMENT_HEADER,
                    encoded,
                    SignedPayment::V1(Box::new(payment)),
                )
            }
            _ => return Err(ClientError::MalformedChallenge("empty challenge".into())),
        };
        let header_value = HeaderValue::try_from(encoded)
            .map_err(|err| ClientError::InvalidRequest(err.to_string()))?;
        Ok(PreparedPayment {
            header_name,
            header_value,
            payment,
            offer: offer.clone(),
            reservation,
        })
    }

    /// Reads what the server said of a payment: the receipt on success; on 402/412, why it was
    /// refused. The budget keeps the amount unless the server said nothing was charged.
    pub async fn conclude(
        &self,
        payment: PreparedPayment,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<Receipt>, ClientError> {
        if is_refusal(status) {
            return Err(self.refusal(payment, status, headers, body).await);
        }
        // A metered stream sends its receipt as the body's last event instead of a header.
        let receipt = self.read_receipt(headers).and_then(Result::ok).or_else(|| {
            headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.starts_with("text/event-stream"))
                .and_then(|_| crate::sse::receipt_event(body))
        });
        self.finish(payment, receipt.as_ref()).await;
        Ok(receipt)
    }

    /// Ends a payment that was delivered, with the receipt the server sent if any: the budget
    /// keeps the amount (only the settled amount for an `upto` receipt) unless the receipt says
    /// settlement failed, and the after-pay hook runs. For carriers other than HTTP (MCP).
    pub async fn finish(&self, payment: PreparedPayment, receipt: Option<&Receipt>) {
        let PreparedPayment {
            offer, reservation, ..
        } = payment;
        // The signed authorization stays valid until it expires, whatever the status says: it
        // stays counted unless a receipt says settlement failed.
        match (receipt, reservation) {
            (Some(settled), Some(reservation)) if !settled.success => drop(reservation),
            // An `upto` receipt names what was settled: only that stays spent.
            (Some(settled), Some(reservation)) => match settled.amount {
                Some(amount) => reservation.keep_settled(amount),
                None => reservation.keep(),
            },
            (_, Some(reservation)) => reservation.keep(),
            (_, None) => {}
        }
        self.hooks.after_pay(&offer, receipt).await;
    }

    /// Why the server refused a payment (a 402 or 412 answer to the paid request): settlement
    /// failed (with its receipt) or verification refused it.
    ///
    /// The budget is given back only on a receipt saying settlement failed. A bare refusal is the
    /// server's word alone while the signed authorization stays valid until it expires (a
    /// dishonest server could collect authorizations that way), and a `*_nonce_already_used`
    /// refusal of our own fresh payment means it was already spent (a transport retry of a
    /// request the server had settled): both stay counted.
    pub async fn refusal(
        &self,
        payment: PreparedPayment,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ClientError {
        let PreparedPayment {
            offer, reservation, ..
        } = payment;
        if let Some(Ok(settled)) = self.read_receipt(headers) {
            let spent = settled.success
                || settled
                    .error_reason
                    .as_ref()
                    .is_some_and(|reason| reason.as_str().ends_with("nonce_already_used"));
            match reservation {
                Some(reservation) if spent => reservation.keep(),
                other => drop(other),
            }
            self.hooks.after_pay(&offer, Some(&settled)).await;
            return ClientError::SettlementFailed(Box::new(settled));
        }
        if let Some(reservation) = reservation {
            reservation.keep();
        }
        let reason = self
            .read_challenge(headers, body)
            .ok()
            .and_then(|challenge| challenge.error().map(Reason::parse))
            .unwrap_or(Reason::T402PaymentRefused);
        ClientError::PaymentRefused {
            status: status.as_u16(),
            reason,
        }
    }

    /// The settlement receipt of a response (`PAYMENT-RESPONSE`, else `X-PAYMENT-RESPONSE`).
    pub fn read_receipt(&self, headers: &HeaderMap) -> Option<Result<Receipt, ClientError>> {
        let decode = |name: &str, kind: HeaderKind| {
            headers.get(name).map(|value| {
                let text = value
                    .to_str()
                    .map_err(|_| ClientError::MalformedChallenge("receipt is not ASCII".into()))?;
                self.codec
                    .decode_header::<Receipt>(kind, text)
                    .map_err(|err| ClientError::MalformedChallenge(err.to_string()))
            })
        };
        decode(PAYMENT_RESPONSE_HEADER, HeaderKind::PaymentResponse)
            .or_else(|| decode(X_PAYMENT_RESPONSE_HEADER, HeaderKind::XPaymentResponse))
    }
}

/// Whether the answer to a paid request means the server refused the payment (402, or 412 for
/// `permit2_allowance_required`).
pub fn is_refusal(status: StatusCode) -> bool {
    status == StatusCode::PAYMENT_REQUIRED || status == StatusCode::PRECONDITION_FAILED
}

/// Whether the request already carries a payment header.
pub fn carries_payment(headers: &HeaderMap) -> bool {
    headers.contains_key(PAYMENT_SIGNATURE_HEADER) || headers.contains_key(X_PAYMENT_HEADER)
}
