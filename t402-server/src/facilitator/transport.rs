//! How [`HttpFacilitator`](super::HttpFacilitator) reaches its facilitator: one HTTP exchange,
//! status and body.
//!
//! Straight to the facilitator, requests go through hyper's pooled HTTP/1.1 client (TLS by rustls
//! with the platform's verifier), which costs a paid request less than a general-purpose client.
//! When the environment names a proxy for the facilitator's URL (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, less `NO_PROXY`), requests go through reqwest, which speaks to proxies. Neither
//! follows redirects: a payment goes to the configured facilitator only.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use reqwest::Url;

/// The time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why an exchange failed.
pub(super) enum Failure {
    /// No connection could be made (nothing was sent).
    Connect(BoxError),
    /// The request or its answer failed on the way.
    Exchange(BoxError),
}

impl Failure {
    /// `err`, a connection failure when `connecting`.
    fn of(connecting: bool, err: impl Into<BoxError>) -> Self {
        if connecting {
            Self::Connect(err.into())
        } else {
            Self::Exchange(err.into())
        }
    }
}

/// One facilitator endpoint: its URL for each kind of client.
#[derive(Debug)]
pub(super) struct Target {
    url: Url,
    uri: Uri,
}

impl Target {
    /// `url` as a target; `None` if it is not a valid URI.
    pub(super) fn new(url: Url) -> Option<Self> {
        let uri = url.as_str().parse().ok()?;
        Some(Self { url, uri })
    }
}

/// The HTTP client of a facilitator.
#[derive(Clone)]
pub(super) enum Transport {
    /// Straight to the facilitator.
    Direct(Arc<Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>>),
    /// Through a proxy.
    Proxied(reqwest::Client),
}

impl Transport {
    /// The client for a facilitator at `base`: through the proxy the environment names for it,
    /// or straight to it.
    pub(super) fn for_url(base: &Url) -> Result<Self, BoxError> {
        Self::with_proxies(base, &Matcher::from_env(), reqwest::Client::builder())
    }

    /// The client for a facilitator at `base`, given the proxies that apply (`matcher`) and the
    /// reqwest client to use if one does (`proxied`, which reads the same proxies).
    pub(super) fn with_proxies(
        base: &Url,
        matcher: &Matcher,
        proxied: reqwest::ClientBuilder,
    ) -> Result<Self, BoxError> {
        let uri: Uri = base.as_str().parse()?;
        if matcher.intercept(&uri).is_some() {
            let client = proxied
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            return Ok(Self::Proxied(client));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .try_with_platform_verifier()?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self::Direct(Arc::new(
            Client::builder(TokioExecutor::new()).build(connector),
        )))
    }

    /// Whether requests go through a proxy.
    pub(super) fn is_proxied(&self) -> bool {
        matches!(self, Self::Proxied(_))
    }

    /// One exchange: `body` is POSTed (GET without one), with `headers`; the answer's status and
    /// whole body.
    pub(super) async fn exchange(
        &self,
        target: &Target,
        headers: HeaderMap,
        body: Option<&Bytes>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        match self {
            Self::Direct(client) => {
                let method = if body.is_some() {
                    Method::POST
                } else {
                    Method::GET
                };
                let mut request = Request::new(Full::new(body.cloned().unwrap_or_default()));
                *request.method_mut() = method;
                *request.uri_mut() = target.uri.clone();
                *request.headers_mut() = headers;
                let response = client
                    .request(request)
                    .await
                    .map_err(|err| Failure::of(err.is_connect(), err))?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|err| Failure::of(false, err))?
                    .to_bytes();
                Ok((status, body))
            }
            Self::Proxied(client) => {
                let request = match body {
                    // A clone of `Bytes` shares the encoded body across retries.
                    Some(body) => client.post(target.url.clone()).body(body.clone()),
                    None => client.get(target.url.clone()),
                };
                // The facilitator's URL may carry a key: errors never quote it.
                let response = request
                    .headers(headers)
                    .send()
                    .await
                    .map_err(|err| Failure::of(err.is_connect(), err.without_url()))?;
                let status = response.status();
                let body = response
                    .bytes()
                    .await
                    .map_err(|err| Failure::of(false, err.without_url()))?;
                Ok((status, body))
            }
        }
    }
}
