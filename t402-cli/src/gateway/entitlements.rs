//! Entitlements: a paid request on a route with an entitlement buys a session of N requests or
//! T seconds on its route group. The gateway answers with a signed token (`T402-Entitlement`
//! header and a `t402_entitlement` cookie); later requests present it (`Authorization: Bearer
//! <token>` or the cookie) instead of paying. Tokens are HMAC-SHA256 signed and bound to the
//! payer and the group; uses are counted in the settlement store (Redis when configured, so every
//! gateway instance sharing it honours one count). A token that is forged, expired, for another
//! group or used up is ignored: the request is asked to pay.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use serde::{Deserialize, Serialize};
use t402_core::{PaymentId, SettlementStore};
use t402_server::route::RoutePattern;

/// The prefix of entitlement tokens (so other bearer tokens pass through untouched).
const PREFIX: &str = "t402e.";
/// The cookie carrying a token.
const COOKIE_NAME: &str = "t402_entitlement";
/// The response header carrying a new token.
pub(crate) const TOKEN_HEADER: &str = "t402-entitlement";
/// The response header saying how many uses are left.
pub(crate) const REMAINING_HEADER: &str = "t402-entitlement-remaining";

/// What a payment buys on one route.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grant {
    /// The route group the session covers (every route naming it).
    pub(crate) group: String,
    /// Requests the session allows.
    pub(crate) requests: u64,
    /// How long the session lasts, in seconds.
    pub(crate) seconds: u64,
}

/// A token's signed content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    /// A random id: the key of the use counter.
    id: String,
    group: String,
    payer: String,
    requests: u64,
    /// Unix seconds.
    expires: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The routes with entitlements, the signing key and the use counters.
#[derive(Clone)]
pub(crate) struct Entitlements {
    secret: Arc<Vec<u8>>,
    store: Arc<dyn SettlementStore>,
    routes: Arc<Vec<(RoutePattern, Grant)>>,
}

impl std::fmt::Debug for Entitlements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entitlements")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

/// A token accepted for one request.
#[derive(Debug)]
pub(crate) struct Redeemed {
    /// Uses left after this one.
    pub(crate) remaining: u64,
}

impl Entitlements {
    pub(crate) fn new(
        secret: Vec<u8>,
        store: Arc<dyn SettlementStore>,
        routes: Vec<(RoutePattern, Grant)>,
    ) -> Self {
        Self {
            secret: Arc::new(secret),
            store,
            routes: Arc::new(routes),
        }
    }

    /// The grant of the route a request goes to, if it has one.
    pub(crate) fn grant(&self, method: &str, path: &str) -> Option<&Grant> {
        self.routes
            .iter()
            .find(|(pattern, _)| pattern.matches(method, path))
            .map(|(_, grant)| grant)
    }

    fn mac(&self) -> Hmac<sha2::Sha256> {
        Hmac::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    /// A token for `payer` on the grant's group.
    pub(crate) fn mint(&self, grant: &Grant, payer: &str) -> String {
        let claims = Claims {
            id: alloy_primitives::B128::random().to_string(),
            group: grant.group.clone(),
            payer: payer.to_owned(),
            requests: grant.requests,
            expires: now() + grant.seconds,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{PREFIX}{payload}.{signature}")
    }

    /// The headers giving a new token to the client: the token, and a cookie lasting as long.
    pub(crate) fn grant_headers(
        &self,
        grant: &Grant,
        token: &str,
    ) -> Vec<(&'static str, HeaderValue)> {
        let mut out = Vec::new();
        if let Ok(value) = HeaderValue::try_from(token) {
            out.push((TOKEN_HEADER, value));
        }
        let cookie = format!(
            "{COOKIE_NAME}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
            grant.seconds
        );
        if let Ok(value) = HeaderValue::try_from(cookie) {
            out.push((SET_COOKIE.as_str(), value));
        }
        out
    }

    /// The token a request presents, if any.
    pub(crate) fn presented(headers: &http::HeaderMap) -> Option<String> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| token.starts_with(PREFIX));
        if let Some(token) = bearer {
            return Some(token.to_owned());
        }
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
            .map(str::to_owned)
            .next()
    }

    /// Removes the token from a request before it is forwarded.
    pub(crate) fn strip(headers: &mut http::HeaderMap) {
        let ours = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start_matches("Bearer ").trim().starts_with(PREFIX));
        if ours {
            headers.remove(AUTHORIZATION);
        }
    }

    /// Accepts `token` for one request on `grant`'s group: the signature holds, it has not
    /// expired, it is for this group and uses are left (counted in the store). `Ok(None)` when
    /// it is refused; `Err` when the store cannot count.
    pub(crate) async fn redeem(
        &self,
        token: &str,
        grant: &Grant,
    ) -> Result<Option<Redeemed>, t402_core::StoreError> {
        let Some(claims) = self.verify(token) else {
            return Ok(None);
        };
        if claims.group != grant.group || claims.expires <= now() {
            return Ok(None);
        }
        let counter = PaymentId::from_parts(["entitlement", &claims.id]);
        let used = self.store.increment(&counter, claims.expires).await?;
        if used > claims.requests {
            return Ok(None);
        }
        Ok(Some(Redeemed {
            remaining: claims.requests - used,
        }))
    }

    /// The claims of a token whose signature holds (compared in constant time).
    fn verify(&self, token: &str) -> Option<Claims> {
        let (payload, signature) = token.strip_prefix(PREFIX)?.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}
