//! Several facilitators with precedence (protocol reference §1.1): for each kind (version,
//! network, scheme) the first facilitator that lists it in `/supported` owns it. `/supported` is
//! cached with a time to live and fetched again after a failure.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use t402_core::error::BoxFuture;
use t402_core::wire::{FacilitatorRequest, SupportedKind};
use t402_core::{
    Facilitator, FacilitatorError, SendJournal, SettleResponse, SupportedResponse, VerifyResponse,
};

/// How long `/supported` answers are kept by default.
pub const DEFAULT_SUPPORTED_TTL: Duration = Duration::from_secs(300);

/// How long an expired `/supported` answer is still served by default when the facilitators
/// cannot be asked again.
pub const DEFAULT_STALE_FOR: Duration = Duration::from_secs(600);

/// (version, scheme, network), the order of every kind look-up.
type KindKey = (u32, String, String);

/// What the facilitators said in `/supported`.
#[derive(Debug, Clone)]
struct Snapshot {
    generation: u64,
    /// When the answer is to be read again.
    expires_at: Instant,
    /// Each facilitator's answer, `None` when it failed.
    answers: Vec<Option<SupportedResponse>>,
    /// Which facilitator owns each kind.
    owners: HashMap<KindKey, usize>,
}

/// A kind offered by one of the facilitators, with that facilitator's extension keys.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OfferedKind {
    /// The kind, as its facilitator listed it.
    pub kind: SupportedKind,
    /// The facilitator's extension keys.
    pub extensions: Vec<String>,
    /// The facilitator's signer addresses for the kind's network family.
    pub signers: Vec<String>,
}

/// Facilitators in order of precedence.
pub struct Facilitators {
    entries: Vec<Arc<dyn Facilitator>>,
    ttl: Duration,
    stale_for: Duration,
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    /// Held while `/supported` is fetched: one fetch at a time.
    refreshing: tokio::sync::Mutex<()>,
    generations: std::sync::atomic::AtomicU64,
    /// When the last fetch failed and why, so a caller that waited for it does not fetch again.
    last_failure: Mutex<Option<(Instant, String)>>,
}

impl fmt::Debug for Facilitators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Facilitators")
            .field("count", &self.entries.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl Facilitators {
    /// Facilitators in order of precedence (the first listing a kind owns it).
    pub fn new(entries: Vec<Arc<dyn Facilitator>>) -> Self {
        Self {
            entries,
            ttl: DEFAULT_SUPPORTED_TTL,
            stale_for: DEFAULT_STALE_FOR,
            snapshot: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            generations: std::sync::atomic::AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    /// Sets how long an expired answer is still served while the facilitators cannot be asked
    /// again (default [`DEFAULT_STALE_FOR`]; zero serves no stale answer).
    #[must_use]
    pub fn with_stale_for(mut self, stale_for: Duration) -> Self {
        self.stale_for = stale_for;
        self
    }

    /// Sets how long `/supported` answers are kept.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many facilitators there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Marks the cached answers expired, so the next lookup asks again (they stay available as
    /// the stale fallback).
    pub fn invalidate(&self) {
        let mut slot = self
            .snapshot
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(current) = slot.as_ref() {
            let mut expired = Snapshot::clone(current);
            expired.expires_at = expired.expires_at.min(Instant::now());
            *slot = Some(Arc::new(expired));
        }
    }

    /// Asks every facilitator for `/supported`, in order, now. Fails only when all fail (with
    /// the last error).
    pub async fn refresh(&self) -> Result<(), FacilitatorError> {
        let _single_flight = self.refreshing.lock().await;
        self.fetch().await.map(|_| ())
    }

    /// Fetches and stores the answers; the caller holds `refreshing`.
    async fn fetch(&self) -> Result<Arc<Snapshot>, FacilitatorError> {
        let mut answers = Vec::with_capacity(self.entries.len());
        let mut last_error = None;
        for facilitator in &self.entries {
            match facilitator.supported().await {
                Ok(answer) => answers.push(Some(answer)),
                Err(err) => {
                    tracing::warn!(error = %err, "facilitator /supported failed");
                    answers.push(None);
                    last_error = Some(err);
                }
            }
        }
        if answers.iter().all(Option::is_none) {
            let err = last_error.unwrap_or_else(|| {
                FacilitatorError::Unavailable("no facilitator is configured".into())
            });
            *self
                .last_failure
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) =
                Some((Instant::now(), err.to_string()));
            return Err(err);
        }
        let mut owners = HashMap::new();
        for (index, answer) in answers.iter().enumerate() {
            for kind in answer.iter().flat_map(|a| &a.kinds) {
                owners
                    .entry((
                        kind.version.number,
                        kind.scheme.clone(),
                        kind.network.clone(),
                    ))
                    .or_insert(index);
            }
        }
        let snapshot = Arc::new(Snapshot {
            generation: self
                .generations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1,
            expires_at: Instant::now() + self.ttl,
            answers,
            owners,
        });
        *self
            .snapshot
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The cached answers when still fresh.
    fn fresh_snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current()
            .filter(|snapshot| snapshot.expires_at > Instant::now())
    }

    /// The cached answers, fetched again when expired: one fetch however many callers wait (a
    /// waiter re-checks once it gets its turn, and does not fetch again after a fetch that failed
    /// while it waited). When fetching fails, the last good answer is served until it is
    /// [`with_stale_for`](Self::with_stale_for) past its expiry.
    async fn fresh(&self) -> Result<Arc<Snapshot>, FacilitatorError> {
        if let Some(snapshot) = self.fresh_snapshot() {
            return Ok(snapshot);
        }
        let waiting_since = Instant::now();
        let _single_flight = self.refreshing.lock().await;
        if let Some(snapshot) = self.fresh_snapshot() {
            return Ok(snapshot);
        }
        let failed_meanwhile = self
            .last_failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .as_ref()
            .filter(|(at, _)| *at >= waiting_since)
            .map(|(_, message)| message.clone());
        let result = match failed_meanwhile {
            // A fetch ended in failure while this caller waited: its failure stands.
            Some(message) => Err(FacilitatorError::Unavailable(message.into())),
            None => self.fetch().await,
        };
        result.or_else(|err| match self.current() {
            Some(stale) if Instant::now() < stale.expires_at + self.stale_for => {
                tracing::warn!(error = %err, "serving the last /supported answer");
                Ok(stale)
            }
            _ => Err(err),
        })
    }

    /// A number that changes each time `/supported` is read again (so what was derived from it
    /// can be cached); reads it again when the cached answers are too old.
    pub async fn generation(&self) -> Result<u64, FacilitatorError> {
        Ok(self.fresh().await?.generation)
    }

    /// The kind (version, scheme, network) as its owning facilitator lists it.
    pub async fn kind(
        &self,
        version: u32,
        scheme: &str,
        network: &str,
    ) -> Result<Option<OfferedKind>, FacilitatorError> {
        let snapshot = self.fresh().await?;
        let key = (version, scheme.to_owned(), network.to_owned());
        let Some(&owner) = snapshot.owners.get(&key) else {
            return Ok(None);
        };
        let Some(answer) = snapshot.answers[owner].as_ref() else {
            return Ok(None);
        };
        let Some(kind) = answer.find(version, scheme, network).cloned() else {
            return Ok(None);
        };
        let family = network.split(':').next().unwrap_or_default();
        let signers = answer
            .signers
            .iter()
            .filter(|(pattern, _)| {
                pattern.as_str() == network
                    || pattern.as_str() == "*"
                    || pattern.strip_suffix(":*") == Some(family)
            })
            .flat_map(|(_, addresses)| addresses.iter().cloned())
            .collect();
        Ok(Some(OfferedKind {
            kind,
            extensions: answer.extensions.clone(),
            signers,
        }))
    }

    /// The facilitators to ask for `request`: its kind's owner, or all in order when none owns it.
    async fn candidates(&self, request: &FacilitatorRequest) -> Vec<Arc<dyn Facilitator>> {
        let key = match request {
            FacilitatorRequest::V2(r) => Some((
                t402_core::PROTOCOL_VERSION,
                r.payment_requirements.scheme.clone(),
                r.payment_requirements.network.to_string(),
            )),
            FacilitatorRequest::V1(r) => Some((
                1,
                r.payment_requirements.scheme.clone(),
                r.payment_requirements.network.clone(),
            )),
            _ => None,
        };
        if let (Some(key), Ok(snapshot)) = (key, self.fresh().await)
            && let Some(&owner) = snapshot.owners.get(&key)
        {
            return vec![self.entries[owner].clone()];
        }
        self.entries.clone()
    }
}

impl Facilitator for Facilitators {
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(async move {
            let mut last = None;
            for facilitator in self.candidates(request).await {
                match facilitator.verify(request).await {
                    Ok(answer) => return Ok(answer),
                    Err(err) => {
                        self.invalidate();
                        last = Some(err);
                    }
                }
            }
            Err(last.unwrap_or_else(|| FacilitatorError::Unavailable("no facilitator".into())))
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
            // Settlement goes to one facilitator only: trying another after an error could pay
            // twice.
            let candidates = self.candidates(request).await;
            let Some(facilitator) = candidates.first() else {
                return Err(FacilitatorError::Unavailable("no facilitator".into()));
            };
            let result = facilitator.settle_journaled(request, journal).await;
            if result.is_err() {
                self.invalidate();
            }
            result
        })
    }

    fn follow<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Option<SettleResponse>, FacilitatorError>> {
        Box::pin(async move {
            match self.candidates(request).await.first() {
                Some(facilitator) => facilitator.follow(request, transaction).await,
                None => Ok(None),
            }
        })
    }

    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async move {
            let snapshot = self.fresh().await?;
            let mut merged = SupportedResponse::default();
            for answer in snapshot.answers.iter().flatten() {
                for kind in &answer.kinds {
                    if merged
                        .find(kind.version.number, &kind.scheme, &kind.network)
                        .is_none()
                    {
                        merged.kinds.push(kind.clone());
                    }
                }
                for extension in &answer.extensions {
                    if !merged.extensions.contains(extension) {
                        merged.extensions.push(extension.clone());
                    }
                }
                for (pattern, addresses) in &answer.signers {
                    merged
                        .signers
                        .entry(pattern.clone())
                        .or_default()
                        .extend(addresses.iter().cloned());
                }
            }
            Ok(merged)
        })
    }
}
