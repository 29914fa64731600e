//! The reverse proxy behind the payment layer: each request goes to the upstream with its
//! method, path, query, headers (less hop-by-hop ones, RFC 9110 §7.6.1, and the payment headers)
//! and body; the answer streams back the same way.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONNECTION, HOST, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1), and the
/// payment headers, which are the gateway's business.
const NOT_FORWARDED: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "payment-signature",
    "x-payment",
];

/// Where and how requests are forwarded.
#[derive(Clone)]
pub(crate) struct Upstream {
    client: Client<Connector, Body>,
    base: Uri,
    headers: Arc<HeaderMap>,
    max_request_bytes: usize,
    timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The injected headers hold credentials: only their names are shown.
        f.debug_struct("Upstream")
            .field("base", &self.base)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// An upstream at `base` (`http://` or `https://`), with `headers` added to every request.
    pub(crate) fn new(
        base: Uri,
        headers: HeaderMap,
        max_request_bytes: usize,
        timeout: Duration,
    ) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_platform_verifier()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            base,
            headers: Arc::new(headers),
            max_request_bytes,
            timeout,
        }
    }

    fn target(&self, uri: &Uri) -> Result<Uri, http::Error> {
        let base_path = self.base.path().trim_end_matches('/');
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = Some(format!("{base_path}{path_and_query}").parse()?);
        Ok(Uri::from_parts(parts)?)
    }
}

/// Removes the headers a proxy must not forward: the fixed list and those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in NOT_FORWARDED {
        headers.remove(name);
    }
}

fn bad_gateway(status: StatusCode, message: String) -> Response {
    tracing::warn!(%status, %message, "upstream request failed");
    (
        status,
        axum::Json(json!({"error": "t402_upstream_unavailable", "message": message})),
    )
        .into_response()
}

/// Forwards one request and streams the answer back.
pub(crate) async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let target = match upstream.target(&parts.uri) {
        Ok(target) => target,
        Err(err) => return bad_gateway(StatusCode::BAD_REQUEST, err.to_string()),
    };
    // The body within the limit, streamed.
    let body = Body::new(Limited::new(body, upstream.max_request_bytes));
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(HOST);
    for (name, value) in upstream.headers.iter() {
        parts.headers.insert(name, value.clone());
    }
    if let Some(authority) = target.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(HOST, host);
    }
    parts.uri = target;
    let outgoing = http::Request::from_parts(parts, body);
    let answer =
        match tokio::time::timeout(upstream.timeout, upstream.client.request(outgoing)).await {
            Err(_) => {
                return bad_gateway(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("no answer within {:?}", upstream.timeout),
                );
            }
            Ok(Err(err)) => {
                // A request body over the limit surfaces here.
                let message = err.to_string();
                let status = if format!("{err:?}").contains("LengthLimitError") {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_GATEWAY
                };
                return bad_gateway(status, message);
            }
            Ok(Ok(answer)) => answer,
        };
    let (mut parts, body) = answer.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = body
        .map_err(axum::Error::new)
        .map_frame(|frame| frame.map_data(Bytes::from));
    Response::from_parts(parts, Body::new(body))
}
