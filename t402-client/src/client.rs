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
use crate::payer::{Payer, PreparedPayment, carries_payment};
use crate::policy::SpendPolicy;

/// The default time allowed for each request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How transport failures of idempotent requests are retried (the same payment is sent again,
/// never a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportRetry {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub first_delay: Duration,
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
    payer: Arc<Payer>,
    timeout: Duration,
    retry: TransportRetry,
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

    /// Uses this reqwest client for the HTTP exchanges.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .build()
                .map_err(ClientError::Transport)?,
        };
        Ok(Client {
            http,
            payer: Arc::new(self.payer),
            timeout: self.timeout,
            retry: self.retry,
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
            url: url.to_string(),
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

    /// One exchange, with the transport retries of idempotent methods.
    async fn exchange(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: &Option<Bytes>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ClientError> {
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
            let mut request = self
                .http
                .request(method.clone(), url)
                .headers(headers.clone());
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let outcome = tokio::time::timeout(self.timeout, async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, bytes))
            })
            .await;
            let failure = match outcome {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(err)) if err.is_connect() || err.is_timeout() || err.is_request() => {
                    ClientError::Transport(err)
                }
                Ok(Err(err)) => return Err(ClientError::Transport(err)),
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
        let (status, headers, body) = client
            .exchange(&self.method, &self.url, &self.headers, &self.body)
            .await?;
        if status != StatusCode::PAYMENT_REQUIRED {
            return Ok(PaidResponse::new(status, headers, body, None, None));
        }
        if carries_payment(&self.headers) {
            return Err(ClientError::AlreadyAttempted);
        }
        let challenge = client.payer.read_challenge(&headers, &body)?;
        // Choosing and signing get the same time as an exchange (a remote signer may hang).
        let payment: PreparedPayment = tokio::time::timeout(
            client.timeout,
            client
                .payer
                .prepare(&challenge, &self.url, self.policy.as_ref()),
        )
        .await
        .map_err(|_| ClientError::Timeout(client.timeout))??;
        let offer = payment.offer.clone();
        let mut paid_headers = self.headers.clone();
        paid_headers.insert(payment.header_name, payment.header_value.clone());
        let (status, headers, body) = match client
            .exchange(&self.method, &self.url, &paid_headers, &self.body)
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                // The payment may have reached the server: it stays counted.
                payment.keep_reserved();
                return Err(err);
            }
        };
        let receipt = client
            .payer
            .conclude(payment, status, &headers, &body)
            .await?;
        Ok(PaidResponse::new(
            status,
            headers,
            body,
            receipt,
            Some(offer),
        ))
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
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        receipt: Option<Receipt>,
        paid: Option<t402_core::PaymentRequirements>,
    ) -> Self {
        Self {
            status,
            headers,
            body,
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
