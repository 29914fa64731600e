//! [`Client`]: a reqwest-style HTTP client that pays on 402.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Receipt;
use crate::error::ClientError;
use crate::pay_on_402::{PaidAnswer, PayError, Unpaid};
use crate::payer::{Payer, carries_payment};
use crate::policy::SpendPolicy;

/// The default time allowed for each request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default limit on a response body the client reads.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The redirect policy for requests carrying a payment: redirects are followed within the
/// origin (scheme, host and port) of the request, at most 10; a redirect to another origin is
/// not followed and its response is returned as it came.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 10 {
            return attempt.error("too many redirects");
        }
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Why a response body could not be read.
enum BodyError {
    Transport(reqwest::Error),
    TooLarge(usize),
}

/// Reads a response body, refusing one larger than `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// How transport failures of idempotent requests are retried (the same payment is sent again,
/// never a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportRetry {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub first_delay: Duration,
}

impl TransportRetry {
    /// `max_attempts` in all (1 = no retry), the first retry after `first_delay`, doubled each
    /// time.
    pub fn new(max_attempts: u32, first_delay: Duration) -> Self {
        Self {
            max_attempts,
            first_delay,
        }
    }
}

impl Default for TransportRetry {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            first_delay: Duration::from_millis(200),
        }
    }
}

/// An HTTP client that pays on 402 within its spending policy. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Sends paid requests: follows redirects within the request's origin only.
    paid_http: reqwest::Client,
    payer: Arc<Payer>,
    timeout: Duration,
    retry: TransportRetry,
    max_body_bytes: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("payer", &self.payer)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Configures a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    payer: Payer,
    timeout: Duration,
    retry: TransportRetry,
    http: Option<reqwest::Client>,
    paid_http: Option<reqwest::Client>,
    max_body_bytes: usize,
}

impl ClientBuilder {
    /// Pays with `payer` (its mechanisms, policy and hooks).
    pub fn payer(mut self, payer: Payer) -> Self {
        self.payer = payer;
        self
    }

    /// The time allowed for each HTTP exchange (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries of transport failures on idempotent requests.
    pub fn transport_retry(mut self, retry: TransportRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The largest response body read (default [`DEFAULT_MAX_BODY_BYTES`]); a larger one is
    /// [`ClientError::BodyTooLarge`].
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Uses this reqwest client for the unpaid exchanges.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses this reqwest client for the requests that carry a payment. Give it
    /// [`same_origin_redirects`] (or no redirects): a payment header must never follow a
    /// redirect to another origin. By default the client builds one with that policy.
    pub fn paid_http_client(mut self, http: reqwest::Client) -> Self {
        self.paid_http = Some(http);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let failed = |err: reqwest::Error| ClientError::Transport(Box::new(err));
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder().build().map_err(failed)?,
        };
        let paid_http = match self.paid_http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(same_origin_redirects())
                .build()
                .map_err(failed)?,
        };
        Ok(Client {
            http,
            paid_http,
            payer: Arc::new(self.payer),
            timeout: self.timeout,
            retry: self.retry,
            max_body_bytes: self.max_body_bytes,
        })
    }
}

impl Client {
    /// Starts a configuration.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            payer: Payer::new(),
            timeout: DEFAULT_TIMEOUT,
            retry: TransportRetry::default(),
            http: None,
            paid_http: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The payer.
    pub fn payer(&self) -> &Payer {
        &self.payer
    }

    /// A request with `method` to `url`.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method,
            url: url.to_owned(),
            headers: HeaderMap::new(),
            body: None,
            policy: None,
            error: None,
        }
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// One exchange, with the transport retries of idempotent methods; a request carrying a
    /// payment goes through the client that never redirects to another origin.
    async fn exchange(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: &Option<Bytes>,
    ) -> Result<Exchanged, ClientError> {
        let idempotent = matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let attempts = if idempotent {
            self.retry.max_attempts.max(1)
        } else {
            1
        };
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let http = if carries_payment(headers) {
                &self.paid_http
            } else {
                &self.http
            };
            let mut request = http.request(method.clone(), url).headers(headers.clone());
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let outcome = tokio::time::timeout(self.timeout, async {
                let response = request.send().await.map_err(BodyError::Transport)?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = read_limited(response, self.max_body_bytes).await?;
                Ok::<_, BodyError>(Exchanged {
                    status,
                    headers,
                    body,
                })
            })
            .await;
            let failure = match outcome {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(BodyError::Transport(err)))
                    if err.is_connect() || err.is_timeout() || err.is_request() =>
                {
                    ClientError::Transport(Box::new(err))
                }
                Ok(Err(BodyError::Transport(err))) => {
                    return Err(ClientError::Transport(Box::new(err)));
                }
                Ok(Err(BodyError::TooLarge(limit))) => {
                    return Err(ClientError::BodyTooLarge(limit));
                }
                Err(_) => ClientError::Timeout(self.timeout),
            };
            if attempt >= attempts {
                return Err(failure);
            }
            tracing::debug!(url, attempt, error = %failure, "retrying the request");
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }
}

/// A request being built.
#[must_use]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<Bytes>,
    policy: Option<SpendPolicy>,
    error: Option<String>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => self.error = Some(format!("invalid header `{name}`")),
        }
        self
    }

    /// Adds headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Sets the body (kept, so the request can be sent again with the payment).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                self.body = Some(bytes.into());
            }
            Err(err) => self.error = Some(format!("JSON body: {err}")),
        }
        self
    }

    /// Pays this request under `policy` instead of the client's.
    pub fn policy(mut self, policy: SpendPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sends the request; on 402, pays once and sends it again.
    pub async fn send(self) -> Result<PaidResponse, ClientError> {
        if let Some(error) = self.error {
            return Err(ClientError::InvalidRequest(error));
        }
        let client = &self.client;
        let first = client
            .exchange(&self.method, &self.url, &self.headers, &self.body)
            .await?;
        if first.status != StatusCode::PAYMENT_REQUIRED {
            return Ok(PaidResponse::new(first, None, None));
        }
        let unpaid = Unpaid {
            url: &self.url,
            headers: &first.headers,
            body: &first.body,
            already_paid: carries_payment(&self.headers),
            policy: self.policy.as_ref(),
            // Choosing and signing get the same time as an exchange (a remote signer may hang).
            sign_timeout: Some(client.timeout),
        };
        let paid = client
            .payer
            .pay_on_402(unpaid, |name, value| {
                let mut headers = self.headers.clone();
                headers.insert(name, value);
                let (method, url, body) = (&self.method, &self.url, &self.body);
                async move { client.exchange(method, url, &headers, body).await }
            })
            .await;
        match paid {
            Ok(paid) => Ok(PaidResponse::new(
                paid.answer,
                paid.receipt,
                Some(paid.offer),
            )),
            Err(PayError::Payment(err) | PayError::Resend(err)) => Err(err),
        }
    }
}

/// One HTTP exchange: status, headers and the whole body.
#[derive(Debug)]
struct Exchanged {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl PaidAnswer for Exchanged {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn refusal_body(self) -> impl std::future::Future<Output = Bytes> + Send {
        std::future::ready(self.body)
    }

    fn read_body(&self) -> Option<&[u8]> {
        Some(&self.body)
    }
}

/// A response, with what was paid for it.
#[derive(Debug, Clone)]
pub struct PaidResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    receipt: Option<Receipt>,
    paid: Option<t402_core::PaymentRequirements>,
}

impl PaidResponse {
    fn new(
        exchanged: Exchanged,
        receipt: Option<Receipt>,
        paid: Option<t402_core::PaymentRequirements>,
    ) -> Self {
        Self {
            status: exchanged.status,
            headers: exchanged.headers,
            body: exchanged.body,
            receipt,
            paid,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The settlement receipt (`PAYMENT-RESPONSE`), when the request was paid and the server
    /// sent one.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.receipt.as_ref()
    }

    /// The offer paid, when the request was paid.
    pub fn paid(&self) -> Option<&t402_core::PaymentRequirements> {
        self.paid.as_ref()
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}
