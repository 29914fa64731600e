//! Metered streaming: a route that streams verifies before the first byte, lets its handler
//! count usage on a [`Meter`] while it streams, ends the stream when the ceiling is reached, and
//! settles what was counted when the stream ends — also when the client goes away. The receipt
//! is the stream's last event (`event: payment-response`) for server-sent events, or a
//! `payment-response` trailer for other chunked bodies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use t402_core::{Amount, SettleResponse};

/// The trailer carrying the receipt of a metered chunked body.
pub const PAYMENT_RESPONSE_TRAILER: &str = "payment-response";

/// What a metered route's handler finds in its request extensions: it adds the usage of what it
/// streams (per token, event or byte, priced in the offer's atomic units). Usage never goes
/// above the ceiling the payer authorized; reaching it ends the stream.
///
/// ```
/// use t402_core::Amount;
/// use t402_server::Meter;
///
/// let meter = Meter::new(Amount::from(1_000u64));
/// assert!(meter.add(Amount::from(400u64)));
/// assert!(!meter.add(Amount::from(700u64))); // the ceiling is reached
/// assert_eq!(meter.used(), Amount::from(1_000u64));
/// assert!(meter.is_exhausted());
/// ```
#[derive(Clone)]
pub struct Meter {
    inner: Arc<MeterInner>,
}

struct MeterInner {
    ceiling: Amount,
    used: Mutex<Amount>,
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meter")
            .field("ceiling", &self.inner.ceiling)
            .field("used", &self.used())
            .finish()
    }
}

impl Meter {
    /// A meter for a payment authorizing at most `ceiling`.
    pub fn new(ceiling: Amount) -> Self {
        Self {
            inner: Arc::new(MeterInner {
                ceiling,
                used: Mutex::new(Amount::ZERO),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Amount> {
        self.inner
            .used
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds `amount` of usage (capped at the ceiling); `false` once the ceiling is reached, after
    /// which the stream ends.
    pub fn add(&self, amount: Amount) -> bool {
        let mut used = self.lock();
        let ceiling = self.inner.ceiling.as_u256();
        let total = used.as_u256().saturating_add(amount.as_u256()).min(ceiling);
        *used = Amount::from(total);
        total < ceiling
    }

    /// Adds `units` at `unit_price` each.
    pub fn add_units(&self, units: u64, unit_price: Amount) -> bool {
        let amount = unit_price
            .as_u256()
            .saturating_mul(Amount::from(units).as_u256());
        self.add(Amount::from(amount))
    }

    /// The usage so far.
    pub fn used(&self) -> Amount {
        *self.lock()
    }

    /// The most the payer authorized.
    pub fn ceiling(&self) -> Amount {
        self.inner.ceiling
    }

    /// What may still be used.
    pub fn remaining(&self) -> Amount {
        Amount::from(
            self.inner
                .ceiling
                .as_u256()
                .saturating_sub(self.used().as_u256()),
        )
    }

    /// Whether the ceiling is reached.
    pub fn is_exhausted(&self) -> bool {
        self.used().as_u256() >= self.inner.ceiling.as_u256()
    }
}

/// Settles the amount used; answers the receipt to send (`None` when there is none to send:
/// the facilitator could not be used).
pub(crate) type Settle =
    Box<dyn FnOnce(Amount) -> Pin<Box<dyn Future<Output = Option<SettleResponse>> + Send>> + Send>;

enum Phase {
    Streaming,
    Settling(Pin<Box<dyn Future<Output = Option<SettleResponse>> + Send>>),
    Done,
}

struct Metering {
    meter: Meter,
    settle: Option<Settle>,
    phase: Phase,
    sse: bool,
}

impl Metering {
    fn start_settling(&mut self) {
        if let Some(settle) = self.settle.take() {
            self.phase = Phase::Settling(settle(self.meter.used()));
        } else {
            self.phase = Phase::Done;
        }
    }
}

impl Drop for Metering {
    /// The client went away (or the body was dropped) before the end: what was streamed is
    /// settled anyway, in the background.
    fn drop(&mut self) {
        let pending = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Streaming => self.settle.take().map(|settle| settle(self.meter.used())),
            Phase::Settling(future) => Some(future),
            Phase::Done => None,
        };
        if let Some(future) = pending {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        let _ = future.await;
                    });
                }
                Err(_) => tracing::error!(
                    "a metered stream ended outside a tokio runtime; its usage was not settled"
                ),
            }
        }
    }
}

pin_project! {
    /// The body of a paid response: the handler's own, passed through, or metered (see the
    /// module documentation).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        metering: Option<Box<Metering>>,
    }
}

impl<B: fmt::Debug> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("metered", &self.metering.is_some())
            .finish()
    }
}

impl<B> ResponseBody<B> {
    /// The handler's body, unchanged.
    pub(crate) fn plain(inner: B) -> Self {
        Self {
            inner,
            metering: None,
        }
    }

    /// The handler's body, metered by `meter` and settled by `settle` when it ends.
    pub(crate) fn metered(inner: B, meter: Meter, settle: Settle, sse: bool) -> Self {
        Self {
            inner,
            metering: Some(Box::new(Metering {
                meter,
                settle: Some(settle),
                phase: Phase::Streaming,
                sse,
            })),
        }
    }
}

/// The receipt as the stream's last frame.
fn receipt_frame(settled: &SettleResponse, sse: bool) -> Frame<Bytes> {
    if sse {
        let json = serde_json::to_string(settled).unwrap_or_default();
        Frame::data(Bytes::from(format!(
            "event: payment-response\ndata: {json}\n\n"
        )))
    } else {
        let mut trailers = HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&t402_core::codec::encode_header(settled)) {
            trailers.insert(
                http::HeaderName::from_static(PAYMENT_RESPONSE_TRAILER),
                value,
            );
        }
        Frame::trailers(trailers)
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(metering) = this.metering.as_mut() else {
            return this.inner.poll_frame(cx);
        };
        loop {
            match &mut metering.phase {
                Phase::Streaming => {
                    if metering.meter.is_exhausted() {
                        metering.start_settling();
                        continue;
                    }
                    match ready!(this.inner.as_mut().poll_frame(cx)) {
                        // The handler's own trailers give way to the receipt's.
                        Some(Ok(frame)) if frame.is_trailers() => {}
                        Some(Ok(frame)) => return Poll::Ready(Some(Ok(frame))),
                        Some(Err(err)) => {
                            // What was streamed is still settled (when the body is dropped).
                            return Poll::Ready(Some(Err(err)));
                        }
                        None => metering.start_settling(),
                    }
                }
                Phase::Settling(future) => {
                    let settled = ready!(future.as_mut().poll(cx));
                    metering.phase = Phase::Done;
                    if let Some(settled) = settled {
                        return Poll::Ready(Some(Ok(receipt_frame(&settled, metering.sse))));
                    }
                }
                Phase::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.metering {
            None => self.inner.is_end_stream(),
            Some(metering) => matches!(metering.phase, Phase::Done),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.metering {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}
