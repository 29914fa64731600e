//! [`PaymentService`]: the middleware service, and its future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Either;
use pin_project_lite::pin_project;
use t402_core::error::BoxError;
use tower_service::Service;

use crate::PaymentBody;
use crate::flow;
use crate::layer::Shared;

/// The service of [`PaymentLayer`](crate::PaymentLayer): requests to priced routes go through the
/// payment flow, others straight to the inner service.
pub struct PaymentService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for PaymentService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for PaymentService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentService").finish_non_exhaustive()
    }
}

impl<S> PaymentService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PaymentService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<PaymentBody<ResBody>>;
    type Error = S::Error;
    type Future = PaymentFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let route = self
            .shared
            .route_for(request.method().as_str(), request.uri().path());
        match route {
            // The inner service's own future: nothing added.
            None => PaymentFuture::passthrough(self.inner.call(request)),
            Some(index)
                if !request
                    .headers()
                    .contains_key(t402_core::codec::PAYMENT_SIGNATURE_HEADER) =>
            {
                // The challenge needs neither the inner service nor the rest of the flow.
                let shared = self.shared.clone();
                PaymentFuture::paid(Box::pin(async move {
                    Ok(flow::unpaid(shared, request, index)
                        .await
                        .map(Either::Right))
                }))
            }
            Some(index) => {
                // The service that was polled ready handles this request, later, inside the
                // flow; the clone stays for the next request.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                PaymentFuture::paid(Box::pin(flow::handle(
                    self.shared.clone(),
                    inner,
                    request,
                    index,
                )))
            }
        }
    }
}

type PaidFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<PaymentBody<B>>, E>> + Send>>;

pin_project! {
    /// The future of [`PaymentService`].
    pub struct PaymentFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F, B, E> {
        // An unpriced request: the inner service's future, untouched.
        Passthrough { #[pin] inner: F },
        // A priced request going through the payment flow.
        Paid { future: PaidFuture<B, E> },
    }
}

impl<F, B, E> PaymentFuture<F, B, E> {
    fn passthrough(inner: F) -> Self {
        Self {
            state: State::Passthrough { inner },
        }
    }

    fn paid(future: PaidFuture<B, E>) -> Self {
        Self {
            state: State::Paid { future },
        }
    }
}

impl<F, B, E> fmt::Debug for PaymentFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            State::Passthrough { .. } => f.write_str("PaymentFuture::Passthrough"),
            State::Paid { .. } => f.write_str("PaymentFuture::Paid"),
        }
    }
}

impl<F, B, E> Future for PaymentFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<PaymentBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::Passthrough { inner } => {
                let response = ready!(inner.poll(cx))?;
                Poll::Ready(Ok(response.map(Either::Left)))
            }
            StateProjection::Paid { future } => future.as_mut().poll(cx),
        }
    }
}
