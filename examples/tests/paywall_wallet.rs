//! A person paying on the paywall page: headless Chromium (Debian's `chromium`) driven by
//! `playwright-core` (npm, pinned in package-lock.json) opens a priced route of the example API on
//! anvil, with a test wallet injected into the page (an EIP-1193 provider announced over
//! EIP-6963, whose signatures come from a known key in the driving process), and presses Pay.
//! Screenshots of each state land in `target/paywall-screenshots/`.

use std::path::PathBuf;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use t402_core::NetworkPattern;
use t402_core::Reason;
use t402_core::error::BoxFuture;
use t402_evm::ExactEvmServer;
use t402_examples::paid_api::router;
use t402_server::{
    HookDecision, PaymentEvent, PaymentHooks, PaymentLayer, PaymentOption, Paywall, Route,
};
use t402_testkit::{
    AnvilWorld, PAYER_FUNDS, node_command, npm_package_installed, private_key_hex, serve,
};

/// The price of `GET /weather`, in atomic units of the 6-decimal test token.
const WEATHER_PRICE: u64 = 1_000;

/// Where the page links transactions.
const EXPLORER: &str = "https://explorer.test/tx/";

/// Chromium and playwright-core, or `None` (skipped) when `T402_SKIP_EXTERNAL` is set.
fn browser() -> Option<PathBuf> {
    if !npm_package_installed("playwright-core") {
        return None;
    }
    t402_testkit::chromium()
}

/// Refuses to settle payments for `/report/...`: the page must say the settlement failed.
struct RefuseReportSettlement;

impl PaymentHooks for RefuseReportSettlement {
    fn before_settle<'a>(&'a self, event: &'a PaymentEvent) -> BoxFuture<'a, HookDecision> {
        let refuse = event.uri.path().starts_with("/report/");
        Box::pin(async move {
            if refuse {
                HookDecision::Abort {
                    reason: Reason::Other("settlement_refused".into()),
                    message: "reports are not sold today".into(),
                }
            } else {
                HookDecision::Continue
            }
        })
    }
}

struct Shop {
    world: AnvilWorld,
    url: String,
    chromium: PathBuf,
}

impl Shop {
    async fn open() -> Option<Self> {
        let chromium = browser()?;
        let world = AnvilWorld::start().await?;
        // The example API's /weather, with an explorer for the anvil chain on the paywall.
        let option = PaymentOption::exact(
            world.network(),
            t402_testkit::test_token_price(world.token, WEATHER_PRICE),
            world.pay_to.to_checksum(None),
        )
        .decimals(6);
        let layer = PaymentLayer::builder()
            .facilitator(world.facilitator.clone())
            .mechanism(NetworkPattern::parse("eip155:*").unwrap(), ExactEvmServer)
            .route(
                "GET /weather",
                Route::new(option.clone()).description("Today's weather"),
            )
            .route("GET /report/:id", Route::new(option))
            .hooks(RefuseReportSettlement)
            .paywall(Paywall::new().explorer(world.network().to_string(), EXPLORER))
            .build_and_initialize()
            .await
            .expect("the layer initializes");
        let url = format!("{}/weather", serve(router(layer)).await);
        Some(Self {
            world,
            url,
            chromium,
        })
    }

    /// Opens the page in Chromium with a wallet holding `key` (none when `None`) behaving as
    /// `wallet`, presses Pay and reports what the page said; screenshots are named after `shot`.
    async fn visit(
        &self,
        shot: &str,
        key: Option<&PrivateKeySigner>,
        wallet: &str,
        options: Value,
    ) -> Value {
        let shots = t402_testkit::workspace_root().join("target/paywall-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let mut config = json!({
            "chromium": self.chromium,
            "url": self.url,
            "rpcUrl": self.world.anvil.url,
            "privateKey": key.map(private_key_hex),
            "walletChainId": self.world.chain_id,
            "wallet": wallet,
            "screenshot": shots.join(shot).to_string_lossy(),
        });
        for (name, value) in options.as_object().unwrap() {
            config[name] = value.clone();
        }
        let page = node_command("paywall-browser.mjs", config).await;
        assert_eq!(
            page["errors"],
            json!([]),
            "script errors on the page: {page}"
        );
        page
    }

    async fn balances(&self) -> (U256, U256) {
        (
            self.world.token_balance(self.world.payer.address()).await,
            self.world.token_balance(self.world.pay_to).await,
        )
    }
}

#[tokio::test]
async fn a_person_pays_with_a_browser_wallet() {
    let Some(shop) = Shop::open().await else {
        return;
    };
    // Operated with the keyboard alone.
    let page = shop
        .visit(
            "pay",
            Some(&shop.world.payer),
            "honest",
            json!({"keyboard": true}),
        )
        .await;
    assert_eq!(page["kind"], "done", "{page}");
    assert_eq!(page["signatures"], 1);
    let content = page["content"].as_str().unwrap();
    assert!(
        content.contains("\"forecast\": \"sunny\""),
        "formatted JSON: {content}"
    );
    let receipt = page["receipt"].as_str().unwrap();
    assert!(receipt.starts_with("Transaction 0x"), "{receipt}");
    assert!(receipt.ends_with("on eip155:31337"), "{receipt}");
    let hash = receipt
        .strip_prefix("Transaction ")
        .and_then(|rest| rest.strip_suffix(" on eip155:31337"))
        .unwrap();
    assert_eq!(page["receiptLink"], format!("{EXPLORER}{hash}"));
    assert_eq!(page["focused"], "H2", "focus moves to the paid content");
    assert_eq!(
        shop.balances().await,
        (
            U256::from(PAYER_FUNDS - WEATHER_PRICE),
            U256::from(WEATHER_PRICE)
        )
    );

    // A wallet on another chain is asked to switch, then pays; the page fits a phone's width.
    let page = shop
        .visit(
            "switch-phone",
            Some(&shop.world.payer),
            "honest",
            json!({"walletChainId": 1, "phoneWidth": true}),
        )
        .await;
    assert_eq!(page["kind"], "done", "{page}");
    assert_eq!(page["switches"], json!([shop.world.chain_id]));
    assert_eq!(page["overflow"], false, "no horizontal scrolling at 390 px");
    assert_eq!(
        shop.balances().await,
        (
            U256::from(PAYER_FUNDS - 2 * WEATHER_PRICE),
            U256::from(2 * WEATHER_PRICE)
        )
    );
}

#[tokio::test]
async fn every_failure_is_said_in_words_and_moves_nothing() {
    let Some(shop) = Shop::open().await else {
        return;
    };
    let before = shop.balances().await;
    let cases = [
        (
            "rejects",
            Some(&shop.world.payer),
            json!({}),
            "You declined to sign the payment; nothing was paid.",
        ),
        (
            "refuses-switch",
            Some(&shop.world.payer),
            json!({"walletChainId": 1}),
            "You declined to switch to chain 31337; nothing was paid.",
        ),
        (
            "wrong-key",
            Some(&shop.world.payer),
            json!({}),
            "The server refused the payment: invalid_exact_evm_",
        ),
    ];
    for (wallet, key, options, said) in cases {
        let page = shop.visit(wallet, key, wallet, options).await;
        assert_eq!(page["kind"], "error", "{page}");
        let status = page["status"].as_str().unwrap();
        assert!(status.starts_with(said), "{wallet}: {status}");
        assert_eq!(page["content"], Value::Null);
        assert_eq!(shop.balances().await, before, "{wallet}");
    }

    // Verified, then the settlement is refused: the page says so and shows no content.
    let page = shop
        .visit(
            "settlement-failed",
            Some(&shop.world.payer),
            "honest",
            json!({"url": shop.url.replace("/weather", "/report/7")}),
        )
        .await;
    assert_eq!(page["kind"], "error", "{page}");
    assert_eq!(
        page["status"],
        "Settlement failed: settlement_refused; nothing was paid for."
    );
    assert_eq!(page["content"], Value::Null);
    assert_eq!(shop.balances().await, before);

    // A wallet without the token is told before it signs anything.
    let empty = PrivateKeySigner::random();
    let page = shop
        .visit("insufficient", Some(&empty), "honest", json!({}))
        .await;
    assert_eq!(page["kind"], "error", "{page}");
    let status = page["status"].as_str().unwrap();
    assert!(
        status.starts_with(&format!(
            "Insufficient balance: {} holds 0 USD Coin, the price is 0.001 USD Coin.",
            empty.address()
        )),
        "{status}"
    );
    assert_eq!(page["signatures"], 0);

    // No wallet at all.
    let page = shop.visit("no-wallet", None, "none", json!({})).await;
    assert_eq!(page["kind"], "error", "{page}");
    assert!(
        page["status"]
            .as_str()
            .unwrap()
            .starts_with("No wallet found"),
        "{page}"
    );
    assert_eq!(shop.balances().await, before);
}
