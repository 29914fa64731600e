//! A facilitator reached over HTTP (`POST /verify`, `POST /settle`, `GET /supported`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::Value;
use t402_core::error::BoxFuture;
use t402_core::version::set_version_key;
use t402_core::{
    Facilitator, FacilitatorError, Reason, SettleResponse, SupportedResponse, VerifyResponse,
    VersionKey, wire::FacilitatorRequest,
};

use super::transport::{Failure, Target, Transport};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The room a request's JSON is written into at first (most fit).
const ENCODED_CAPACITY: usize = 2048;

/// The default time allowed for `/supported` and `/verify`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time allowed for `/settle` (it waits for the chain).
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One of the facilitator's endpoints, for auth headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /supported`.
    Supported,
    /// `POST /verify`.
    Verify,
    /// `POST /settle`.
    Settle,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Self::Supported => "supported",
            Self::Verify => "verify",
            Self::Settle => "settle",
        }
    }
}

/// Adds headers (an API key, a signed token) to each request of one endpoint.
pub type AuthHeaders = Arc<dyn Fn(Endpoint) -> HeaderMap + Send + Sync>;

/// Retries of `/supported` and `/verify` on HTTP 429 and connection errors. `/settle` is never
/// retried blindly: a lost answer may hide a payment made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub first_delay: Duration,
}

impl RetryPolicy {
    /// `max_attempts` in all (1 = no retry), the first retry after `first_delay`, doubled each
    /// time.
    pub fn new(max_attempts: u32, first_delay: Duration) -> Self {
        Self {
            max_attempts,
            first_delay,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            first_delay: Duration::from_millis(250),
        }
    }
}

/// A facilitator over HTTP.
///
/// Requests name the protocol version with the key the facilitator reads: the one its
/// `/supported` kinds use (`t402Version` for a facilitator of the t402 family, `x402Version`
/// for an x402 one or one that writes both), whatever key the client's payment used; or the key
/// set with [`with_version_key`](Self::with_version_key).
///
/// Redirects are not followed: a 3xx answer is an HTTP error, so a payment never travels to
/// another address than the configured one.
///
/// Requests go straight to the facilitator over hyper's pooled HTTP/1.1 client (TLS by rustls
/// with the platform's verifier), or, when the environment names a proxy for its URL
/// (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, less `NO_PROXY`), through that proxy (with
/// reqwest).
#[derive(Clone)]
pub struct HttpFacilitator {
    base: Url,
    /// The endpoints' URLs, joined once.
    urls: Arc<EndpointUrls>,
    transport: Transport,
    timeout: Duration,
    settle_timeout: Duration,
    retry: RetryPolicy,
    auth: Option<AuthHeaders>,
    version_key: Option<VersionKey>,
    /// Whether the last `/supported` answer named versions with `t402Version` only.
    speaks_t402: Arc<AtomicBool>,
}

impl fmt::Debug for HttpFacilitator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFacilitator")
            .field("url", &self.base.as_str())
            .field("proxied", &self.transport.is_proxied())
            .field("timeout", &self.timeout)
            .field("settle_timeout", &self.settle_timeout)
            .field("retry", &self.retry)
            .field("auth", &self.auth.as_ref().map(|_| "<headers hook>"))
            .field("version_key", &self.version_key())
            .finish()
    }
}

/// The three endpoints' URLs under a base.
#[derive(Debug)]
struct EndpointUrls {
    supported: Target,
    verify: Target,
    settle: Target,
}

impl EndpointUrls {
    fn under(base: &Url) -> Option<Self> {
        let target = |endpoint: Endpoint| Target::new(base.join(endpoint.path()).ok()?);
        Some(Self {
            supported: target(Endpoint::Supported)?,
            verify: target(Endpoint::Verify)?,
            settle: target(Endpoint::Settle)?,
        })
    }

    fn of(&self, endpoint: Endpoint) -> &Target {
        match endpoint {
            Endpoint::Supported => &self.supported,
            Endpoint::Verify => &self.verify,
            Endpoint::Settle => &self.settle,
        }
    }
}

/// Why an HTTP facilitator could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpFacilitatorError {
    /// The URL is not an absolute http or https URL.
    #[error("invalid facilitator URL `{0}`")]
    Url(String),
    /// The HTTP client could not be built (its TLS configuration, for one).
    #[error("HTTP client: {0}")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HttpFacilitator {
    /// A facilitator at `url` (trailing slashes ignored), with the default timeouts and retries.
    pub fn new(url: &str) -> Result<Self, HttpFacilitatorError> {
        let mut base: Url = url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| HttpFacilitatorError::Url(url.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(HttpFacilitatorError::Url(url.to_owned()));
        }
        // `join` replaces the last segment unless the base ends with a slash.
        let path = format!("{}/", base.path().trim_end_matches('/'));
        base.set_path(&path);
        // Redirects are not followed: a payment goes to the configured facilitator only (a
        // redirect would carry it elsewhere), and a settlement is never sent twice.
        let transport = Transport::for_url(&base).map_err(HttpFacilitatorError::Client)?;
        Self::with_transport(url, base, transport)
    }

    /// A facilitator at `base` (`url` as given, for errors), reached by `transport`.
    fn with_transport(
        url: &str,
        base: Url,
        transport: Transport,
    ) -> Result<Self, HttpFacilitatorError> {
        let urls =
            EndpointUrls::under(&base).ok_or_else(|| HttpFacilitatorError::Url(url.to_owned()))?;
        Ok(Self {
            base,
            urls: Arc::new(urls),
            transport,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            settle_timeout: DEFAULT_SETTLE_TIMEOUT,
            retry: RetryPolicy::default(),
            auth: None,
            version_key: None,
            speaks_t402: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Names the protocol version with `key` in every request, instead of the key the
    /// facilitator's `/supported` answer uses.
    #[must_use]
    pub fn with_version_key(mut self, key: VersionKey) -> Self {
        self.version_key = Some(key);
        self
    }

    /// The key requests name the version with: the one set, else the one the last `/supported`
    /// answer used, else `x402Version`.
    pub fn version_key(&self) -> VersionKey {
        if let Some(key) = self.version_key {
            return key;
        }
        if self.speaks_t402.load(Ordering::Relaxed) {
            VersionKey::T402
        } else {
            VersionKey::X402
        }
    }

    /// Remembers the key a `/supported` answer names versions with: `t402Version` when its kinds
    /// carry only that key, else `x402Version`.
    fn learn_key(&self, answer: &SupportedResponse) {
        if answer.kinds.is_empty() {
            return;
        }
        let t402_only = answer
            .kinds
            .iter()
            .all(|kind| kind.version.key == VersionKey::T402);
        self.speaks_t402.store(t402_only, Ordering::Relaxed);
    }

    /// Sets the time allowed for `/supported` and `/verify`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the time allowed for `/settle`.
    #[must_use]
    pub fn with_settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Sets the retry policy of `/supported` and `/verify`.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adds headers to every request (for example an API key).
    #[must_use]
    pub fn with_auth_headers(
        mut self,
        headers: impl Fn(Endpoint) -> HeaderMap + Send + Sync + 'static,
    ) -> Self {
        self.auth = Some(Arc::new(headers));
        self
    }

    /// The base URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// One request, with its timeout; `Ok` carries the status and the body.
    async fn send_once(
        &self,
        endpoint: Endpoint,
        body: Option<&bytes::Bytes>,
    ) -> Result<(StatusCode, bytes::Bytes), Attempt> {
        let timeout = match endpoint {
            Endpoint::Settle => self.settle_timeout,
            _ => self.timeout,
        };
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        if let Some(auth) = &self.auth {
            headers.extend(auth(endpoint));
        }
        let exchange = self
            .transport
            .exchange(self.urls.of(endpoint), headers, body);
        let (status, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => return Err(Attempt::Fatal(FacilitatorError::Timeout(timeout))),
            Ok(Err(Failure::Connect(err))) => {
                return Err(Attempt::Retryable(FacilitatorError::Unavailable(err)));
            }
            Ok(Err(Failure::Exchange(err))) => {
                return Err(Attempt::Fatal(FacilitatorError::Unavailable(err)));
            }
            Ok(Ok(answer)) => answer,
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Attempt::Retryable(FacilitatorError::Http {
                status: status.as_u16(),
                message: excerpt(&body),
            }));
        }
        Ok((status, body))
    }

    /// Sends with retries where the endpoint allows them.
    async fn send(
        &self,
        endpoint: Endpoint,
        body: Option<&bytes::Bytes>,
    ) -> Result<(StatusCode, bytes::Bytes), FacilitatorError> {
        let attempts = match endpoint {
            Endpoint::Settle => 1,
            _ => self.retry.max_attempts.max(1),
        };
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            match self.send_once(endpoint, body).await {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Retryable(err)) if attempt < attempts => {
                    tracing::debug!(endpoint = endpoint.path(), attempt, error = %err, "retrying facilitator request");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(Attempt::Retryable(err) | Attempt::Fatal(err)) => return Err(err),
            }
        }
    }

    async fn exchange<T: DeserializeOwned + ProtocolAnswer>(
        &self,
        endpoint: Endpoint,
        request: &FacilitatorRequest,
    ) -> Result<T, FacilitatorError> {
        let body = self.encode(request)?;
        let (status, bytes) = self.send(endpoint, Some(&body)).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|err| FacilitatorError::MalformedResponse(err.to_string()));
        }
        // Non-2xx: a protocol answer in the body (TypeScript style), or `{"error": "<reason>:
        // <message>"}` naming a known reason (Go style), is the facilitator's verdict.
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            if value.get(T::MARKER).is_some()
                && let Ok(answer) = serde_json::from_value::<T>(value.clone())
            {
                return Ok(answer);
            }
            if let Some(error) = value.get("error").and_then(Value::as_str) {
                // Go style `"<reason>: <message>"`, or t402's `"error": reason` beside
                // `"message"`.
                let (reason, message) = match error.split_once(':') {
                    Some((reason, message)) => (reason.trim(), message.trim()),
                    None => (
                        error.trim(),
                        value.get("message").and_then(Value::as_str).unwrap_or(""),
                    ),
                };
                let reason = Reason::parse(reason);
                if reason.code().is_some() {
                    return Ok(T::refusal(reason, message, request));
                }
            }
        }
        Err(FacilitatorError::Http {
            status: status.as_u16(),
            message: excerpt(&bytes),
        })
    }
}

/// Whether `request` names its version (top level and payload) with exactly `key`.
impl HttpFacilitator {
    /// The request's JSON, naming the version with the key the facilitator reads. Most requests
    /// already do and are written straight to bytes; the others go through a JSON value whose
    /// keys are rewritten.
    fn encode(&self, request: &FacilitatorRequest) -> Result<bytes::Bytes, FacilitatorError> {
        let malformed =
            |err: &dyn fmt::Display| FacilitatorError::MalformedResponse(format!("request: {err}"));
        let key = self.version_key();
        if names_version_with(request, key) {
            // Room for a typical request (about 1.2 KiB), so the buffer is not regrown as it is
            // written.
            let mut body = Vec::with_capacity(ENCODED_CAPACITY);
            serde_json::to_writer(&mut body, request).map_err(|err| malformed(&err))?;
            return Ok(bytes::Bytes::from(body));
        }
        let mut body = serde_json::to_value(request).map_err(|err| malformed(&err))?;
        if let Some(object) = body.as_object_mut() {
            // The top level and the payload carry the version; the facilitator reads its key.
            set_version_key(object, key)
                .and_then(|()| {
                    match object
                        .get_mut("paymentPayload")
                        .and_then(Value::as_object_mut)
                    {
                        Some(payload) => set_version_key(payload, key),
                        None => Ok(()),
                    }
                })
                .map_err(|err| malformed(&err))?;
        }
        serde_json::to_vec(&body)
            .map(bytes::Bytes::from)
            .map_err(|err| malformed(&err))
    }
}

fn names_version_with(request: &FacilitatorRequest, key: VersionKey) -> bool {
    let (top, payload) = match request {
        FacilitatorRequest::V2(r) => (r.version, r.payment_payload.version_key),
        FacilitatorRequest::V1(r) => (r.version, r.payment_payload.version_key),
        _ => return false,
    };
    top.is_some_and(|top| top.key == key) && payload == key
}

enum Attempt {
    Retryable(FacilitatorError),
    Fatal(FacilitatorError),
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// A verify or settle answer that can be recognised in, or built from, an error body.
trait ProtocolAnswer {
    const MARKER: &'static str;
    fn refusal(reason: Reason, message: &str, request: &FacilitatorRequest) -> Self;
}

impl ProtocolAnswer for VerifyResponse {
    const MARKER: &'static str = "isValid";
    fn refusal(reason: Reason, message: &str, _: &FacilitatorRequest) -> Self {
        let response = VerifyResponse::invalid(reason, None);
        if message.is_empty() {
            response
        } else {
            response.with_message(message)
        }
    }
}

impl ProtocolAnswer for SettleResponse {
    const MARKER: &'static str = "success";
    fn refusal(reason: Reason, message: &str, request: &FacilitatorRequest) -> Self {
        let network = match request {
            FacilitatorRequest::V2(request) => request.payment_payload.accepted.network.to_string(),
            FacilitatorRequest::V1(request) => request.payment_payload.network.clone(),
            _ => String::new(),
        };
        let response = SettleResponse::failure(reason, network, None);
        if message.is_empty() {
            response
        } else {
            response.with_message(message)
        }
    }
}

impl Facilitator for HttpFacilitator {
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        Box::pin(self.exchange(Endpoint::Verify, request))
    }

    fn settle<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        Box::pin(self.exchange(Endpoint::Settle, request))
    }

    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        Box::pin(async move {
            let (status, bytes) = self.send(Endpoint::Supported, None).await?;
            if !status.is_success() {
                return Err(FacilitatorError::Http {
                    status: status.as_u16(),
                    message: excerpt(&bytes),
                });
            }
            let answer: SupportedResponse = serde_json::from_slice(&bytes)
                .map_err(|err| FacilitatorError::MalformedResponse(err.to_string()))?;
            self.learn_key(&answer);
            Ok(answer)
        })
    }
}

// The stand-in proxy is an axum app.
#[cfg(all(test, feature = "facilitator-service"))]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use hyper_util::client::proxy::matcher::Matcher;
    use t402_core::Facilitator;

    use super::*;

    /// Serves `app` on loopback; its address.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    fn reached_through(proxy: &str, no_proxy: &str) -> HttpFacilitator {
        // `.invalid` never resolves: only a proxy can answer for it.
        let url = "http://facilitator.invalid/x402/";
        let base: Url = url.parse().unwrap();
        let matcher = Matcher::builder().http(proxy).no(no_proxy).build();
        let proxied = reqwest::Client::builder().proxy(reqwest::Proxy::http(proxy).unwrap());
        let transport = Transport::with_proxies(&base, &matcher, proxied).unwrap();
        HttpFacilitator::with_transport(url, base, transport).unwrap()
    }

    #[tokio::test]
    async fn a_proxy_named_for_the_facilitator_carries_its_requests() {
        // The proxy answers `/supported` itself, for the absolute-form request it receives.
        let proxy = serve(Router::new().route(
            "/x402/supported",
            get(|| async {
                axum::Json(serde_json::json!({
                    "kinds": [{"x402Version": 2, "scheme": "exact", "network": "eip155:8453"}],
                    "extensions": [],
                    "signers": {}
                }))
            }),
        ))
        .await;
        let facilitator = reached_through(&proxy, "");
        assert!(facilitator.transport.is_proxied());
        let answer = facilitator.supported().await.unwrap();
        assert_eq!(answer.kinds.len(), 1);

        // Excluded by `NO_PROXY`, the facilitator is reached directly (and is not there).
        let facilitator = reached_through(&proxy, "facilitator.invalid");
        assert!(!facilitator.transport.is_proxied());
        assert!(matches!(
            facilitator.supported().await,
            Err(FacilitatorError::Unavailable(_))
        ));
    }
}
