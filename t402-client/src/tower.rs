//! A tower layer that pays on 402, for hyper and other tower-based HTTP clients.
//!
//! Requests carry a [`Full<Bytes>`] body so they can be sent again with the payment. The
//! settlement [`Receipt`](crate::Receipt) of a paid request is put in the response's extensions;
//! failures to pay come back as [`ClientError`](crate::ClientError) inside the boxed error.

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

use crate::pay_on_402::{MAX_CHALLENGE_BODY, PaidAnswer, PayError, Unpaid};
use crate::payer::{Payer, carries_payment};
use crate::policy::SpendPolicy;

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
            let mut retry = copy_request(&request);
            let policy = request.extensions().get::<SpendPolicy>().cloned();
            let already_paid = carries_payment(request.headers());
            let url = request.uri().to_string();
            let response = inner.call(request).await.map_err(Into::into)?;
            if response.status() != StatusCode::PAYMENT_REQUIRED {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let body = read_limited(body).await;
            let unpaid = Unpaid {
                url: &url,
                headers: &parts.headers,
                body: &body,
                already_paid,
                policy: policy.as_ref(),
                sign_timeout: None,
            };
            let paid = payer
                .pay_on_402(unpaid, |name, value| async move {
                    retry.headers_mut().insert(name, value);
                    std::future::poll_fn(|cx| second.poll_ready(cx))
                        .await
                        .map_err(Into::into)?;
                    second.call(retry).await.map_err(Into::into).map(Answer)
                })
                .await;
            match paid {
                Ok(paid) => {
                    let (mut parts, body) = paid.answer.0.into_parts();
                    if let Some(receipt) = paid.receipt {
                        parts.extensions.insert(receipt);
                    }
                    Ok(Response::from_parts(parts, body))
                }
                Err(PayError::Payment(err)) => Err(err.into()),
                Err(PayError::Resend(err)) => Err(err),
            }
        })
    }
}

/// Reads a body within [`MAX_CHALLENGE_BODY`] (empty when it cannot be read).
async fn read_limited<B>(body: B) -> Bytes
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    Limited::new(body, MAX_CHALLENGE_BODY)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default()
}

/// The answer to the paid request, for the pay-on-402 routine.
struct Answer<B>(Response<B>);

impl<B> PaidAnswer for Answer<B>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn headers(&self) -> &http::HeaderMap {
        self.0.headers()
    }

    fn refusal_body(self) -> impl Future<Output = Bytes> + Send {
        read_limited(self.0.into_body())
    }
}
