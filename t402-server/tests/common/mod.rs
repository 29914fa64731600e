//! A paid world on the in-process devnet: the test token, a funded payer, the real EVM
//! facilitator behind a `LocalFacilitator`, and an axum app behind the payment layer.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use t402_core::codec::{Codec, PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER, encode_header};
use t402_core::error::BoxFuture;
use t402_core::wire::FacilitatorRequest;
use t402_core::{
    ClientMechanism, Facilitator, FacilitatorError, LocalFacilitator, Network, NetworkPattern,
    PaymentPayload, PaymentRequired, Price, SettleResponse, SupportedResponse, VerifyResponse,
};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmServer, ManualClock, SystemClock};
use t402_server::{PaymentLayerBuilder, PaymentOption, Route, VerifiedPayment};
use tower::ServiceExt;

pub const CHAIN: u64 = 31337;
pub const PRICE: u64 = 10_000;
pub const SECRET: &str = "the paid content";

/// The devnet, its token, a payer and the facilitator.
pub struct World {
    pub clock: ManualClock,
    pub devnet: Arc<Devnet>,
    pub token: Address,
    pub payer: PrivateKeySigner,
    pub pay_to: Address,
    pub facilitator: Arc<LocalFacilitator>,
    /// Calls of the handlers.
    pub handled: Arc<AtomicUsize>,
}

impl World {
    pub fn new() -> Self {
        let now = {
            use t402_evm::Clock;
            SystemClock.now()
        };
        let clock = ManualClock::new(now);
        let world = t402_testkit::DevnetWorld::with_clock(clock.clone());
        Self {
            clock,
            devnet: world.devnet,
            token: world.token,
            payer: world.payer,
            pay_to: world.pay_to,
            facilitator: world.facilitator,
            handled: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn price(&self) -> Price {
        t402_testkit::test_token_price(self.token, PRICE)
    }

    pub fn option(&self) -> PaymentOption {
        PaymentOption::exact(
            Network::eip155(CHAIN),
            self.price(),
            self.pay_to.to_checksum(None),
        )
        .max_timeout_seconds(60)
        .decimals(6)
    }

    /// A builder with the EVM server mechanism and `facilitator`.
    pub fn builder_with(&self, facilitator: Arc<dyn Facilitator>) -> PaymentLayerBuilder {
        t402_server::PaymentLayer::builder()
            .facilitator(facilitator)
            .mechanism(
                NetworkPattern::parse("eip155:*").unwrap(),
                Arc::new(ExactEvmServer),
            )
    }

    /// The app: `/paid` (priced), `/free`, `/fail` (priced, answers 500), `/slow` (priced, moves
    /// the chain's clock past the payment's validity), `/internal` (priced, sets an internal
    /// header), `/big` (priced, 64 KiB), `/before` (priced, settled before the handler).
    pub fn app(&self, builder: PaymentLayerBuilder) -> Router {
        let layer = builder
            .route(
                "GET /paid",
                Route::new(self.option()).description("A paid report"),
            )
            .route("GET /fail", Route::new(self.option()))
            .route("GET /slow", Route::new(self.option()))
            .route("GET /internal", Route::new(self.option()))
            .route(
                "GET /big",
                Route::new(self.option()).max_buffered_bytes(1024),
            )
            .route(
                "GET /before",
                Route::new(self.option()).settle(t402_server::SettleMode::BeforeHandler),
            )
            .build()
            .unwrap();
        let handled = self.handled.clone();
        let count = move || {
            handled.fetch_add(1, Ordering::SeqCst);
        };
        let clock = self.clock.clone();
        let (c1, c2, c3, c4, c5, c6) = (
            count.clone(),
            count.clone(),
            count.clone(),
            count.clone(),
            count.clone(),
            count,
        );
        Router::new()
            .route(
                "/paid",
                get(move |request: Request<Body>| async move {
                    c1();
                    let payer = request
                        .extensions()
                        .get::<VerifiedPayment>()
                        .and_then(|p| p.payer.clone())
                        .unwrap_or_default();
                    format!("{SECRET} for {payer}")
                }),
            )
            .route("/free", get(|| async { "free" }))
            .route(
                "/fail",
                get(move || async move {
                    c2();
                    (StatusCode::INTERNAL_SERVER_ERROR, "handler failed")
                }),
            )
            .route(
                "/slow",
                get(move || async move {
                    c3();
                    clock.advance(3600);
                    SECRET
                }),
            )
            .route(
                "/internal",
                get(move || async move {
                    c4();
                    ([("settlement-overrides", r#"{"amount":"10000"}"#)], SECRET)
                }),
            )
            .route(
                "/big",
                get(move || async move {
                    c5();
                    "x".repeat(64 * 1024)
                }),
            )
            .route(
                "/before",
                get(move || async move {
                    c6();
                    SECRET
                }),
            )
            .layer(layer)
    }

    pub fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    pub async fn balance(&self, who: Address) -> U256 {
        self.devnet.token_balance(self.token, who).await.unwrap()
    }

    /// Signs a payment for the first offer of a challenge.
    pub async fn pay(&self, required: &PaymentRequired) -> String {
        let accepted = required.accepts[0].clone();
        let client = ExactEvmClient::new(self.payer.clone()).with_clock(self.clock.clone());
        let signed = client.create_payload(2, &accepted, None).await.unwrap();
        encode_header(&PaymentPayload::new(accepted.into(), signed.payload))
    }
}

pub async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Response<Body> {
    let mut request = Request::get(uri).header("host", "api.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

pub async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn required_of(response: &Response<Body>) -> PaymentRequired {
    let header = response
        .headers()
        .get(PAYMENT_REQUIRED_HEADER)
        .expect("PAYMENT-REQUIRED header")
        .to_str()
        .unwrap();
    Codec::default().decode_payment_required(header).unwrap()
}

pub fn settlement_of(response: &Response<Body>) -> SettleResponse {
    let header = response
        .headers()
        .get(PAYMENT_RESPONSE_HEADER)
        .expect("PAYMENT-RESPONSE header")
        .to_str()
        .unwrap();
    Codec::default().decode_payment_response(header).unwrap()
}

/// A facilitator that delegates to a real one but fails on purpose where told.
pub struct Scripted {
    pub real: Arc<dyn Facilitator>,
    pub verify_error: Option<fn() -> FacilitatorError>,
    pub verify_answer: Option<fn() -> VerifyResponse>,
    pub settle_answer: Option<fn() -> SettleResponse>,
    pub supported_calls: AtomicUsize,
    pub verify_calls: AtomicUsize,
    /// The amount of every settlement asked for.
    pub settled_amounts: std::sync::Mutex<Vec<t402_core::Amount>>,
}

impl Scripted {
    pub fn new(real: Arc<dyn Facilitator>) -> Self {
        Self {
            real,
            verify_error: None,
            verify_answer: None,
            settle_answer: None,
            supported_calls: AtomicUsize::new(0),
            verify_calls: AtomicUsize::new(0),
            settled_amounts: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Facilitator for Scripted {
    fn verify<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<VerifyResponse, FacilitatorError>> {
        self.verify_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(error) = self.verify_error {
            return Box::pin(async move { Err(error()) });
        }
        if let Some(answer) = self.verify_answer {
            return Box::pin(async move { Ok(answer()) });
        }
        self.real.verify(request)
    }

    fn settle<'a>(
        &'a self,
        request: &'a FacilitatorRequest,
    ) -> BoxFuture<'a, Result<SettleResponse, FacilitatorError>> {
        if let FacilitatorRequest::V2(request) = request {
            self.settled_amounts
                .lock()
                .unwrap()
                .push(request.payment_requirements.amount);
        }
        if let Some(answer) = self.settle_answer {
            return Box::pin(async move { Ok(answer()) });
        }
        self.real.settle(request)
    }

    fn supported(&self) -> BoxFuture<'_, Result<SupportedResponse, FacilitatorError>> {
        self.supported_calls.fetch_add(1, Ordering::SeqCst);
        self.real.supported()
    }
}
