//! A reqwest-middleware 0.5 middleware that pays on 402 (feature `reqwest`).
//!
//! A [`SpendPolicy`] in the request's extensions (`reqwest_middleware::Extension`) replaces the
//! payer's policy for that request. Requests with a streaming body cannot be sent twice and are
//! not paid for. The receipt of a paid request is left in the extensions as a
//! [`Receipt`](crate::Receipt).

use std::fmt;
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::error::ClientError;
use crate::payer::{Payer, carries_payment, is_refusal};
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
        if already_paid {
            return Err(failed(ClientError::AlreadyAttempted));
        }
        let Some(mut paid) = retry else {
            // A streaming body cannot be sent again: the 402 is returned as it came.
            return Ok(response);
        };
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(reqwest_middleware::Error::Reqwest)?;
        let challenge = self.payer.read_challenge(&headers, &body).map_err(failed)?;
        let policy = extensions.get::<SpendPolicy>().cloned();
        let payment = self
            .payer
            .prepare(&challenge, &url, policy.as_ref())
            .await
            .map_err(failed)?;
        paid.headers_mut()
            .insert(payment.header_name, payment.header_value.clone());
        let response = match next.run(paid, extensions).await {
            Ok(response) => response,
            Err(err) => {
                payment.keep_reserved();
                return Err(err);
            }
        };
        let status = response.status();
        if is_refusal(status) {
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            return Err(failed(
                self.payer.refusal(payment, status, &headers, &body).await,
            ));
        }
        let receipt = self
            .payer
            .conclude(payment, status, response.headers(), &[])
            .await
            .map_err(failed)?;
        let mut response = response;
        if let Some(receipt) = receipt {
            response.extensions_mut().insert(receipt);
        }
        Ok(response)
    }
}
