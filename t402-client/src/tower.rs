//! A tower layer that pays on 402, for hyper and other tower-based HTTP clients.
//!
//! Requests carry a [`Full<Bytes>`] body so they can be sent again with the payment. The
//! settlement [`Receipt`](crate::Receipt) of a paid request is put in the response's extensions;
//! failures to pay come back as [`ClientError`] inside the boxed error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use t402_core::error::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::ClientError;
use crate::payer::{Payer, carries_payment, is_refusal};
use crate::policy::SpendPolicy;

/// The most of a 402 body read to find a v1 challenge.
const MAX_CHALLENGE_BODY: usize = 64 * 1024;

/// Pays on 402 with a [`Payer`].
#[derive(Clone)]
pub struct PaymentClientLayer {
    payer: Arc<Payer>,
}

impl fmt::Debug for PaymentClientLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentClientLayer")
            .field("payer", &self.payer)
            .finish()
    }
}

impl PaymentClientLayer {
    /// A layer paying with `payer`.
    pub fn new(payer: Payer) -> Self {
        Self {
            payer: Arc::new(payer),
        }
    }
}

impl<S> Layer<S> for PaymentClientLayer {
    type Service = PaymentClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaymentClientService {
            inner,
            payer: self.payer.clone(),
        }
    }
}

/// The service of [`PaymentClientLayer`].
#[derive(Clone)]
pub struct PaymentClientService<S> {
    inner: S,
    payer: Arc<Payer>,
}

impl<S> fmt::Debug for PaymentClientService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentClientService")
            .finish_non_exhaustive()
    }
}

fn copy_request(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

impl<S, B> Service<Request<Full<Bytes>>> for PaymentClientService<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut second = self.inner.clone();
        let payer = self.payer.clone();
        Box::pin(async move {
            let retry = copy_request(&request);
            let policy = request.extensions().get::<SpendPolicy>().cloned();
            let already_paid = carries_payment(request.headers());
            let url = request.uri().to_string();
            let response = inner.call(request).await.map_err(Into::into)?;
            if response.status() != StatusCode::PAYMENT_REQUIRED {
                return Ok(response);
            }
            if already_paid {
                return Err(ClientError::AlreadyAttempted.into());
            }
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_CHALLENGE_BODY)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            let challenge = payer.read_challenge(&parts.headers, &body)?;
            let payment = payer.prepare(&challenge, &url, policy.as_ref()).await?;
            let mut paid = retry;
            paid.headers_mut()
                .insert(payment.header_name, payment.header_value.clone());
            std::future::poll_fn(|cx| second.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = match second.call(paid).await {
                Ok(response) => response,
                Err(err) => {
                    payment.keep_reserved();
                    return Err(err.into());
                }
            };
            let (mut parts, body) = response.into_parts();
            if is_refusal(parts.status) {
                let bytes = Limited::new(body, MAX_CHALLENGE_BODY)
                    .collect()
                    .await
                    .map(|collected| collected.to_bytes())
                    .unwrap_or_default();
                return Err(payer
                    .refusal(payment, parts.status, &parts.headers, &bytes)
                    .await
                    .into());
            }
            let receipt = payer
                .conclude(payment, parts.status, &parts.headers, &[])
                .await?;
            if let Some(receipt) = receipt {
                parts.extensions.insert(receipt);
            }
            Ok(Response::from_parts(parts, body))
        })
    }
}
