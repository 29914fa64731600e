//! The pay-on-402 routine, written once and used by [`Client`](crate::Client), the tower layer
//! and the reqwest middleware: challenge → policy → sign → send again → receipt.
//!
//! Each transport supplies the 402 it received ([`Unpaid`]), a closure that sends the request
//! again with the payment header, and a way to read the body of the answer when the payment is
//! refused ([`PaidAnswer`]). Every body is read within a size limit.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use t402_core::PaymentRequirements;

use crate::Receipt;
use crate::error::ClientError;
use crate::payer::{Payer, is_refusal};
use crate::policy::SpendPolicy;

/// The most of a 402 (or refusal) body read to find a v1 challenge or a reason.
pub const MAX_CHALLENGE_BODY: usize = 64 * 1024;

/// The answer to an unpaid request that asked for payment.
#[derive(Debug, Clone, Copy)]
pub struct Unpaid<'a> {
    /// The URL of the request (passed to the before-pay hook).
    pub url: &'a str,
    /// The 402's headers (`PAYMENT-REQUIRED`).
    pub headers: &'a HeaderMap,
    /// The 402's body, read within [`MAX_CHALLENGE_BODY`] (a v1 challenge).
    pub body: &'a [u8],
    /// Whether the request that got the 402 already carried a payment (then nothing is paid).
    pub already_paid: bool,
    /// A policy replacing the payer's for this request.
    pub policy: Option<&'a SpendPolicy>,
    /// The time allowed for choosing and signing (a remote signer may hang).
    pub sign_timeout: Option<Duration>,
}

/// What the routine needs of the answer to the paid request.
pub trait PaidAnswer: Sized + Send {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// The headers (`PAYMENT-RESPONSE`, or the challenge of a refusal).
    fn headers(&self) -> &HeaderMap;
    /// The body, when the payment was refused, read within [`MAX_CHALLENGE_BODY`] (empty when
    /// it cannot be read).
    fn refusal_body(self) -> impl Future<Output = Bytes> + Send;
    /// The whole body, when it was already read: a metered stream's receipt is its last
    /// server-sent event (default: not read, so only the `PAYMENT-RESPONSE` header counts).
    fn read_body(&self) -> Option<&[u8]> {
        None
    }
}

/// A paid request's answer, with what was paid.
#[derive(Debug)]
pub struct Paid<R> {
    /// The answer to the paid request.
    pub answer: R,
    /// The settlement receipt, when the server sent one.
    pub receipt: Option<Receipt>,
    /// The offer paid.
    pub offer: PaymentRequirements,
}

/// Why the routine stopped: paying failed, or sending again failed in transport.
#[derive(Debug)]
pub enum PayError<E> {
    /// Paying failed (challenge, policy, budget, signing, refusal, settlement).
    Payment(ClientError),
    /// The paid request could not be sent; the payment may have reached the server, so it
    /// stays counted in the budget.
    Resend(E),
}

impl<E> From<ClientError> for PayError<E> {
    fn from(err: ClientError) -> Self {
        Self::Payment(err)
    }
}

impl Payer {
    /// Pays for the request that got `unpaid`: reads the challenge, chooses and signs an offer
    /// within the policy and budget, sends the request again once through `send_again` with the
    /// payment header (its name, `PAYMENT-SIGNATURE` or `X-PAYMENT`, and value), and reads the
    /// receipt. A refusal (402/412) is an error naming the
    /// server's reason or the failed settlement.
    pub async fn pay_on_402<R, E, F, Fut>(
        &self,
        unpaid: Unpaid<'_>,
        send_again: F,
    ) -> Result<Paid<R>, PayError<E>>
    where
        R: PaidAnswer,
        F: FnOnce(&'static str, HeaderValue) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        if unpaid.already_paid {
            return Err(ClientError::AlreadyAttempted.into());
        }
        let challenge = self.read_challenge(unpaid.headers, unpaid.body)?;
        let prepare = self.prepare(&challenge, unpaid.url, unpaid.policy);
        let payment = match unpaid.sign_timeout {
            Some(limit) => tokio::time::timeout(limit, prepare)
                .await
                .map_err(|_| ClientError::Timeout(limit))??,
            None => prepare.await?,
        };
        let offer = payment.offer.clone();
        let answer = match send_again(payment.header_name, payment.header_value.clone()).await {
            Ok(answer) => answer,
            Err(err) => {
                payment.keep_reserved();
                return Err(PayError::Resend(err));
            }
        };
        let status = answer.status();
        if is_refusal(status) {
            let headers = answer.headers().clone();
            let body = answer.refusal_body().await;
            return Err(self.refusal(payment, status, &headers, &body).await.into());
        }
        let receipt = self
            .conclude(
                payment,
                status,
                answer.headers(),
                answer.read_body().unwrap_or_default(),
            )
            .await?;
        Ok(Paid {
            answer,
            receipt,
            offer,
        })
    }
}
