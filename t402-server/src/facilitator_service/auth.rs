//! Who may use the facilitator service: API keys (bearer tokens, compared in constant time) and
//! a rate limit per key.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name requests without a key are counted under (services without keys).
pub(crate) const ANONYMOUS: &str = "anonymous";

/// The API keys the facilitator service accepts as `Authorization: Bearer <key>`. Each key has
/// a name, used in logs, metrics and rate limits; the keys themselves are kept only as SHA-256
/// digests, compared in constant time, and never shown (`Debug` lists the names).
#[derive(Clone)]
pub struct ApiKeys {
    keys: Vec<(String, [u8; 32])>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field(
                "names",
                &self.keys.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a set of API keys was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// A key is empty or shorter than 16 characters: too easy to guess.
    #[error("the API key `{0}` is shorter than 16 characters")]
    TooShort(String),
    /// Two keys have the same name.
    #[error("two API keys are named `{0}`")]
    DuplicateName(String),
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

impl ApiKeys {
    /// Keys with their names (`("partner-a", "…")`).
    pub fn named<N: Into<String>, K: AsRef<str>>(
        keys: impl IntoIterator<Item = (N, K)>,
    ) -> Result<Self, ApiKeyError> {
        let mut out: Vec<(String, [u8; 32])> = Vec::new();
        for (name, key) in keys {
            let name = name.into();
            if key.as_ref().len() < 16 {
                return Err(ApiKeyError::TooShort(name));
            }
            if out.iter().any(|(existing, _)| *existing == name) {
                return Err(ApiKeyError::DuplicateName(name));
            }
            out.push((name, digest(key.as_ref().as_bytes())));
        }
        Ok(Self { keys: out })
    }

    /// The name of the key a request presents (`Authorization: Bearer <key>`), or `None`. Every
    /// configured key is compared, in constant time, whatever matches.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Option<&str> {
        let presented = headers
            .get(AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let presented = digest(presented.as_bytes());
        let mut found = None;
        for (name, key) in &self.keys {
            if bool::from(key.ct_eq(&presented)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// How many requests each API key (or, without keys, the whole service) may make: a sustained
/// rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once above the sustained rate.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` sustained with bursts of `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self { per_second, burst }
    }
}

/// The limiter of a service: one bucket per key name.
#[derive(Clone)]
pub(crate) struct Limiter {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
        }
    }

    /// `Ok` when `key` may make a request now, else how long until it may.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Bearer {key}").parse().unwrap());
        headers
    }

    #[test]
    fn keys_are_matched_by_value_and_never_shown() {
        let keys = ApiKeys::named([
            ("partner-a", "a-key-of-enough-length"),
            ("partner-b", "another-key-long-enough"),
        ])
        .unwrap();
        assert_eq!(
            keys.authenticate(&bearer("a-key-of-enough-length")),
            Some("partner-a")
        );
        assert_eq!(
            keys.authenticate(&bearer("another-key-long-enough")),
            Some("partner-b")
        );
        assert_eq!(keys.authenticate(&bearer("a-key-of-enough-lengtH")), None);
        assert_eq!(keys.authenticate(&HeaderMap::new()), None);
        let mut basic = HeaderMap::new();
        basic.insert(
            AUTHORIZATION,
            "Basic a-key-of-enough-length".parse().unwrap(),
        );
        assert_eq!(keys.authenticate(&basic), None);
        let shown = format!("{keys:?}");
        assert!(shown.contains("partner-a") && !shown.contains("a-key-of-enough-length"));
        assert_eq!(
            ApiKeys::named([("short", "tiny")]).unwrap_err(),
            ApiKeyError::TooShort("short".into())
        );
        assert_eq!(
            ApiKeys::named([("x", "0123456789abcdef"), ("x", "fedcba9876543210")]).unwrap_err(),
            ApiKeyError::DuplicateName("x".into())
        );
    }

    #[test]
    fn each_key_has_its_own_bucket() {
        let limiter = Limiter::new(RateLimit::new(
            NonZeroU32::new(1).unwrap(),
            NonZeroU32::new(2).unwrap(),
        ));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limiter.check("b").is_ok(),
            "another key is not limited by a's use"
        );
    }
}
