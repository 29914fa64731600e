//! [`PaymentService`]: the middleware service of [`PaymentLayer`](crate::PaymentLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Either;
use t402_core::codec::{PAYMENT_SIGNATURE_HEADER, X_PAYMENT_HEADER};
use t402_core::error::BoxError;
use tower_service::Service;

use crate::PaymentBody;
use crate::future::PaymentFuture;
use crate::state::LayerState;
use crate::{challenge, paid};

/// The service of [`PaymentLayer`](crate::PaymentLayer): requests to priced routes go through the
/// payment flow, others straight to the inner service.
pub struct PaymentService<S> {
    inner: S,
    state: Arc<LayerState>,
}

impl<S: Clone> Clone for PaymentService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

impl<S> fmt::Debug for PaymentService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentService").finish_non_exhaustive()
    }
}

impl<S> PaymentService<S> {
    pub(crate) fn new(inner: S, state: Arc<LayerState>) -> Self {
        Self { inner, state }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, taken out.
    pub fn into_inner(self) -> S {
        self.inner
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
        let Some(index) = self
            .state
            .route_for(request.method().as_str(), request.uri().path())
        else {
            // Unpriced: the inner service's own future, nothing added.
            return PaymentFuture::passthrough(self.inner.call(request));
        };
        let state = self.state.clone();
        // The payment header, read once: v2, else v1 when v1 is served.
        let headers = request.headers();
        let presented = match headers.get(PAYMENT_SIGNATURE_HEADER) {
            Some(header) => Some(paid::Presented::V2(header.clone())),
            None if self.state.serves_v1 => headers
                .get(X_PAYMENT_HEADER)
                .map(|header| paid::Presented::V1(header.clone())),
            None => None,
        };
        match presented {
            None => PaymentFuture::priced(Box::pin(async move {
                // The challenge needs neither the inner service nor the rest of the flow.
                let (parts, _body) = request.into_parts();
                let answer = challenge::unpaid(&state, index, &parts).await;
                Ok(answer.into_response().map(Either::Right))
            })),
            Some(header) => {
                // The service that was polled ready handles this request, later, inside the
                // flow; the clone stays for the next request.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                PaymentFuture::priced(Box::pin(paid::handle(state, inner, request, index, header)))
            }
        }
    }
}
