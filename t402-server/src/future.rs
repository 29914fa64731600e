//! [`PaymentFuture`]: the future of [`PaymentService`](crate::PaymentService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body_util::Either;
use pin_project_lite::pin_project;

use crate::PaymentBody;
use crate::metered::ResponseBody;

/// The boxed future of a priced request.
pub(crate) type PricedFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<PaymentBody<B>>, E>> + Send>>;

pin_project! {
    /// The future of [`PaymentService`](crate::PaymentService): the inner service's own future
    /// for unpriced requests, the payment flow for priced ones.
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
        // A priced request: the challenge, or the payment flow.
        Priced { future: PricedFuture<B, E> },
    }
}

impl<F, B, E> PaymentFuture<F, B, E> {
    pub(crate) fn passthrough(inner: F) -> Self {
        Self {
            state: State::Passthrough { inner },
        }
    }

    pub(crate) fn priced(future: PricedFuture<B, E>) -> Self {
        Self {
            state: State::Priced { future },
        }
    }
}

impl<F, B, E> fmt::Debug for PaymentFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            State::Passthrough { .. } => f.write_str("PaymentFuture::Passthrough"),
            State::Priced { .. } => f.write_str("PaymentFuture::Priced"),
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
                Poll::Ready(Ok(
                    response.map(|body| Either::Left(ResponseBody::plain(body)))
                ))
            }
            StateProjection::Priced { future } => future.as_mut().poll(cx),
        }
    }
}
