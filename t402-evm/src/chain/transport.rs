//! The HTTP transport of [`RpcChain`](super::RpcChain): JSON-RPC over reqwest (rustls) that never
//! quotes its URL — not in errors, not in tracing spans — since RPC URLs carry API keys.

use std::task::{Context, Poll};

use alloy_json_rpc::{RequestPacket, ResponsePacket};
use alloy_transport::{TransportError, TransportErrorKind, TransportFut};
use tower_service::Service;

/// JSON-RPC over HTTP(S) to one URL, kept to itself.
#[derive(Clone)]
pub(crate) struct KeyedHttp {
    client: reqwest::Client,
    url: url::Url,
}

impl KeyedHttp {
    pub(crate) fn new(url: url::Url) -> Self {
        Self {
            client: reqwest::Client::new(),
            url,
        }
    }

    async fn send(self, request: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let response = self
            .client
            .post(self.url)
            .json(&request)
            .headers(request.headers())
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let body = response.bytes().await.map_err(failed)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(TransportErrorKind::http_error(
                status.as_u16(),
                t402_core::redact::redact_urls(&text).into_owned(),
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|err| TransportError::deser_err(err, String::from_utf8_lossy(&body)))
    }
}

/// A reqwest failure as a transport error: its whole chain of causes (the root cause's `Debug`
/// too, which names TLS and connection failures precisely), with the URL left out.
fn failed(err: reqwest::Error) -> TransportError {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut root: &dyn std::error::Error = &err;
    while let Some(source) = root.source() {
        message.push_str(": ");
        message.push_str(&source.to_string());
        root = source;
    }
    if !std::ptr::addr_eq(root, &err as &dyn std::error::Error) {
        message.push_str(&format!(" ({root:?})"));
    }
    TransportErrorKind::custom_str(&t402_core::redact::redact_urls(&message))
}

impl Service<RequestPacket> for KeyedHttp {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}
