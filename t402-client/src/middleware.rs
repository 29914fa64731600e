//! A reqwest-middleware 0.5 middleware that pays on 402 (feature `reqwest-middleware`).
//!
//! A [`SpendPolicy`] in the request's extensions (`reqwest_middleware::Extension`) replaces the
//! payer's policy for that request. Requests with a streaming body cannot be sent twice and are
//! not paid for. The receipt of a paid request is left in the extensions as a
//! [`Receipt`](crate::Receipt).
//!
//! The middleware sends the paid request through the reqwest client it wraps, with that
//! client's redirect policy. Build that client with
//! [`same_origin_redirects`](crate::same_origin_redirects) (or no redirects), so a payment header
//! never follows a redirect to another origin (reqwest's default policy follows any).

use std::fmt;
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use bytes::Bytes;

use crate::error::ClientError;
use crate::pay_on_402::{MAX_CHALLENGE_BODY, PaidAnswer, PayError, Unpaid};
use crate::payer::{Payer, carries_payment};
use crate::policy::SpendPolicy;

/// Pays on 402 with a [`Payer`].
#[derive(Clone)]
pub struct PaymentMiddleware {
    payer: Arc<Payer>,
}

impl fmt::Debug for PaymentMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentMiddleware")
            .field("payer", &self.payer)
            .finish()
    }
}

impl PaymentMiddleware {
    /// A middleware paying with `payer`.
    pub fn new(payer: Payer) -> Self {
        Self {
            payer: Arc::new(payer),
        }
    }
}

fn failed(err: ClientError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(err)
}

#[async_trait::async_trait]
impl Middleware for PaymentMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let retry = request.try_clone();
        let already_paid = carries_payment(request.headers());
        let url = request.url().to_string();
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::PAYMENT_REQUIRED {
            return Ok(response);
        }
        let Some(mut paid) = retry else {
            // A streaming body cannot be sent again: the 402 is returned as it came.
            return Ok(response);
        };
        let headers = response.headers().clone();
        let body = read_limited(response).await;
        let policy = extensions.get::<SpendPolicy>().cloned();
        let unpaid = Unpaid {
            url: &url,
            headers: &headers,
            body: &body,
            already_paid,
            policy: policy.as_ref(),
            sign_timeout: None,
        };
        let outcome = self
            .payer
            .pay_on_402(unpaid, |name, value| {
                paid.headers_mut().insert(name, value);
                next.run(paid, extensions)
            })
            .await;
        match outcome {
            Ok(paid) => {
                let mut response = paid.answer;
                if let Some(receipt) = paid.receipt {
                    response.extensions_mut().insert(receipt);
                }
                Ok(response)
            }
            Err(PayError::Payment(err)) => Err(failed(err)),
            Err(PayError::Resend(err)) => Err(err),
        }
    }
}

/// Reads a body within [`MAX_CHALLENGE_BODY`] (what was read when it is larger or fails).
async fn read_limited(mut response: Response) -> Bytes {
    let mut body = bytes::BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_CHALLENGE_BODY {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    body.freeze()
}

impl PaidAnswer for Response {
    fn status(&self) -> StatusCode {
        Response::status(self)
    }

    fn headers(&self) -> &http::HeaderMap {
        Response::headers(self)
    }

    fn refusal_body(self) -> impl std::future::Future<Output = Bytes> + Send {
        read_limited(self)
    }
}
