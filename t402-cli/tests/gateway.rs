//! `t402 gateway`: a real upstream (an axum app) behind the gateway process, a t402 facilitator
//! on the in-process devnet; paid with the t402 client and with the reference TypeScript client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::U256;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use serde_json::{Value, json};
use t402_client::{Client, Payer, SpendPolicy};
use t402_core::{Network, NetworkPattern};
use t402_testkit::{CHAIN, DevnetWorld, PAYER_FUNDS, serve};

mod common;

/// What the upstream saw.
#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    last: Mutex<Option<(Method, Uri, HeaderMap, Bytes)>>,
}

fn upstream(seen: Arc<Seen>) -> Router {
    let record = seen.clone();
    let echo = any(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                record.hits.fetch_add(1, Ordering::SeqCst);
                *record.last.lock().unwrap() = Some((method, uri, headers, body.clone()));
                (
                    [
                        ("x-upstream", "yes"),
                        ("content-type", "application/octet-stream"),
                    ],
                    [b"echo:".as_slice(), &body].concat(),
                )
            }
        },
    );
    let counted = seen.clone();
    Router::new()
        .route(
            "/weather",
            get(move || {
                let counted = counted.clone();
                async move {
                    counted.hits.fetch_add(1, Ordering::SeqCst);
                    (
                        [("x-upstream", "yes"), ("content-type", "application/json")],
                        r#"{"forecast":"sunny","bytes":[0,1,2]}"#,
                    )
                }
            }),
        )
        .route("/echo", echo.clone())
        .route("/forecast", echo.clone())
        .route("/upload", echo.clone())
        .route("/tiers", echo.clone())
        .route("/free", echo)
        .route(
            "/events",
            get(|| async {
                let events = futures_events();
                (
                    [("content-type", "text/event-stream")],
                    axum::body::Body::from_stream(events),
                )
                    .into_response()
            }),
        )
}

/// Three server-sent events, 20 ms apart.
fn futures_events()
-> impl tokio_stream::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for n in 1..=3 {
            let _ = tx
                .send(Ok(Bytes::from(format!("data: event {n}\n\n"))))
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A `[[routes]]` table selling `pattern` for `amount` atomic units of the world's token, paid
/// to its payee, with `extra` lines.
fn route_toml(world: &DevnetWorld, pattern: &str, amount: u64, extra: &str) -> String {
    format!(
        "\n[[routes]]\npattern = \"{pattern}\"\nnetwork = \"eip155:{CHAIN}\"\npay_to = \"{}\"\namount = \"{amount}\"\nasset = \"{}\"\neip712_name = \"USD Coin\"\neip712_version = \"2\"\n{extra}\n",
        world.pay_to.to_checksum(None),
        world.token.to_checksum(None),
    )
}

struct Gateway {
    process: common::Facilitator,
    base: String,
    log: std::path::PathBuf,
    dir: std::path::PathBuf,
    config: std::path::PathBuf,
}

async fn start(world: &DevnetWorld, upstream: &str, name: &str) -> Gateway {
    start_with(world, upstream, name, "", &[]).await
}

/// [`start`] with `extra` top-level configuration and more environment.
async fn start_with(
    world: &DevnetWorld,
    upstream: &str,
    name: &str,
    extra: &str,
    envs: &[(&str, String)],
) -> Gateway {
    let facilitator = serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let dir = std::env::temp_dir().join(format!("t402-gateway-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("metering.jsonl");
    let priced = |pattern: &str, extra: &str| {
        route_toml(world, pattern, 10_000, &format!("decimals = 6\n{extra}"))
    };
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
upstream = "{upstream}"
upstream_headers = {{ authorization = "T402_TEST_UPSTREAM_AUTH" }}
metering_log = "{}"
metrics_listen = "127.0.0.1:0"
{extra}

[[facilitators]]
url = "{facilitator}"
{}{}{}"#,
            log.display(),
            priced("GET /weather", "description = \"Today's weather\""),
            priced("POST /echo", ""),
            priced("GET /events", "streaming = true"),
        ),
    )
    .unwrap();
    let mut all_envs = vec![(
        "T402_TEST_UPSTREAM_AUTH",
        "Bearer upstream-secret".to_owned(),
    )];
    all_envs.extend(envs.iter().cloned());
    let process = common::start_command(
        &["gateway", "--config"],
        &config,
        &all_envs,
        "gateway listening on ",
    )
    .await;
    let base = process.base.split(',').next().unwrap().to_owned();
    Gateway {
        process,
        base,
        log,
        dir,
        config,
    }
}

fn client(world: &DevnetWorld) -> Client {
    let payer = Payer::new()
        .mechanism(
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::new(t402_evm::ExactEvmClient::new(world.payer.clone())),
        )
        .policy(
            SpendPolicy::new()
                .allow_asset(
                    Network::eip155(CHAIN),
                    &world.token.to_checksum(None),
                    6,
                    Some("0.05"),
                )
                .unwrap(),
        );
    Client::builder().payer(payer).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_charges_for_an_unchanged_upstream() {
    let world = DevnetWorld::new();
    let seen = Arc::new(Seen::default());
    let upstream_url = serve(upstream(seen.clone())).await;
    let gateway = start(&world, &upstream_url, "charges").await;
    let paid_to = || async {
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap()
    };

    // Unpaid: the challenge, and the upstream is never reached.
    let unpaid = reqwest::get(format!("{}/weather", gateway.base))
        .await
        .unwrap();
    assert_eq!(unpaid.status(), 402);
    assert!(unpaid.headers().contains_key("payment-required"));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 0);

    // Paid: the upstream's status, headers and body, byte for byte.
    let client = client(&world);
    let paid = client
        .get(&format!("{}/weather", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text());
    assert_eq!(paid.headers()["x-upstream"], "yes");
    assert_eq!(
        paid.bytes().as_ref(),
        br#"{"forecast":"sunny","bytes":[0,1,2]}"#
    );
    assert!(paid.receipt().expect("a receipt").success);
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
    assert_eq!(paid_to().await, U256::from(10_000u64));

    // A body, a query and headers reach the upstream; hop-by-hop and payment headers do not;
    // the upstream's credentials are added.
    let paid = client
        .post(&format!("{}/echo?city=lisbon", gateway.base))
        .header("connection", "x-drop")
        .header("x-drop", "1")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("x-kept", "2")
        .body(vec![0u8, 255, 10, 13])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text());
    assert_eq!(
        paid.bytes().as_ref(),
        &[b'e', b'c', b'h', b'o', b':', 0, 255, 10, 13]
    );
    let (method, uri, headers, body) = seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(method, Method::POST);
    assert_eq!(uri.path_and_query().unwrap().as_str(), "/echo?city=lisbon");
    assert_eq!(body.as_ref(), &[0u8, 255, 10, 13]);
    assert_eq!(headers["authorization"], "Bearer upstream-secret");
    assert_eq!(headers["x-kept"], "2");
    for dropped in [
        "x-drop",
        "proxy-authorization",
        "payment-signature",
        "x-payment",
    ] {
        assert!(
            !headers.contains_key(dropped),
            "{dropped} reached the upstream"
        );
    }

    // Unpriced routes pass through free.
    let free = reqwest::get(format!("{}/free", gateway.base))
        .await
        .unwrap();
    assert_eq!(free.status(), 200);
    assert_eq!(free.bytes().await.unwrap().as_ref(), b"echo:");

    // A streaming route settles first, then the events flow through.
    let events = client
        .get(&format!("{}/events", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.text(),
        "data: event 1\n\ndata: event 2\n\ndata: event 3\n\n"
    );
    assert!(events.receipt().expect("settled before the stream").success);
    assert_eq!(paid_to().await, U256::from(30_000u64));

    // One metering line per paid request.
    let lines: Vec<Value> = std::fs::read_to_string(&gateway.log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["route"], "GET /weather");
    assert_eq!(lines[0]["payer"], world.payer.address().to_checksum(None));
    assert_eq!(lines[0]["amount"], "10000");
    assert_eq!(lines[0]["upstreamStatus"], 200);
    assert_eq!(lines[0]["settled"], true);
    assert!(lines[0]["transaction"].as_str().unwrap().starts_with("0x"));
    assert_eq!(lines[1]["route"], "POST /echo");
    assert_eq!(lines[2]["route"], "GET /events");

    // The payment layer's metrics, on their own listener.
    let mut process = gateway.process;
    let metrics_line = process.next_line().await;
    let metrics_url = metrics_line
        .trim()
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("{metrics_line:?}"))
        .to_owned();
    let text = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            // The unpaid probe and the client's first request.
            .any(|line| line == r#"t402_server_challenges_total{route="GET /weather"} 2"#),
        "{text}"
    );
    assert!(
        text.lines().any(|line| line.starts_with(
            r#"t402_server_paid_requests_total{route="POST /echo",network="eip155:31337",scheme="exact"} 1"#
        )),
        "{text}"
    );

    // The reference TypeScript client pays through the gateway too.
    if t402_testkit::npm_package_installed("@x402/fetch") {
        let output = t402_testkit::reference_script(json!({
            "command": "fetch",
            "url": format!("{}/weather", gateway.base),
            "privateKey": common::key_hex(&world.payer),
            "allowedAsset": {
                "network": format!("eip155:{CHAIN}"),
                "asset": world.token.to_checksum(None),
                "maxAmountPerPayment": "10000",
            },
        }))
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["body"], r#"{"forecast":"sunny","bytes":[0,1,2]}"#);
        assert_eq!(answer["paymentResponse"]["success"], true);
        assert_eq!(paid_to().await, U256::from(40_000u64));
    }
    assert_eq!(
        world
            .devnet
            .token_balance(world.token, world.payer.address())
            .await
            .unwrap(),
        U256::from(PAYER_FUNDS - 40_000)
    );
    let _ = std::fs::remove_dir_all(&gateway.dir);
}

#[test]
fn the_example_configuration_checks() {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gateway.toml");
    let output = common::t402()
        .args(["--json", "gateway", "--check", "--config"])
        .arg(&config)
        .env("UPSTREAM_AUTHORIZATION", "Bearer example")
        .env("FACILITATOR_URL", "https://facilitator.invalid")
        .env("WEBHOOK_SECRET", "example")
        .env("ENTITLEMENT_KEY", "an-example-entitlement-key-of-32-chars")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checked["valid"], true);
    assert_eq!(checked["routes"].as_array().unwrap().len(), 3);
    assert_eq!(checked["routes"][0]["pattern"], "GET /weather");
    // Without the upstream's credentials in the environment: an input error naming the variable.
    let output = common::t402()
        .args(["gateway", "--check", "--config"])
        .arg(&config)
        .env_remove("UPSTREAM_AUTHORIZATION")
        .env("FACILITATOR_URL", "https://facilitator.invalid")
        .env("WEBHOOK_SECRET", "example")
        .env("ENTITLEMENT_KEY", "an-example-entitlement-key-of-32-chars")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("UPSTREAM_AUTHORIZATION"));
}

/// The amount the first offer of an unpaid answer asks.
async fn asked(http: &reqwest::Client, url: &str) -> String {
    let unpaid = http.get(url).send().await.unwrap();
    assert_eq!(unpaid.status(), 402);
    let required = t402_core::codec::Codec::default()
        .decode_payment_required(unpaid.headers()["payment-required"].to_str().unwrap())
        .unwrap();
    required.accepts[0].amount.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_prices_without_dropping_the_connection() {
    let world = DevnetWorld::new();
    let upstream_url = serve(upstream(Arc::new(Seen::default()))).await;
    let gateway = start(&world, &upstream_url, "reload").await;
    let url = format!("{}/weather", gateway.base);
    // One client, one kept-alive connection throughout.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    assert_eq!(asked(&http, &url).await, "10000");

    let hangup = |pid: u32| {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let text = std::fs::read_to_string(&gateway.config).unwrap();
    std::fs::write(
        &gateway.config,
        text.replacen("amount = \"10000\"", "amount = \"20000\"", 1),
    )
    .unwrap();
    hangup(gateway.process.child.id());
    let mut now = String::new();
    for _ in 0..100 {
        now = asked(&http, &url).await;
        if now == "20000" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(now, "20000", "the new price is served after SIGHUP");

    // A file that does not load leaves the running prices.
    std::fs::write(&gateway.config, "this is not toml [").unwrap();
    hangup(gateway.process.child.id());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(asked(&http, &url).await, "20000");
    let _ = std::fs::remove_dir_all(&gateway.dir);
}

/// A webhook receiver that refuses the first `refusals` deliveries with 500.
#[derive(Default)]
struct Receiver {
    refusals: AtomicUsize,
    deliveries: Mutex<Vec<(HeaderMap, Bytes)>>,
}

fn receiver(state: Arc<Receiver>) -> Router {
    Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                state.deliveries.lock().unwrap().push((headers, body));
                let refuse = state
                    .refusals
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refuse {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    )
}

/// Whether `header` is the HMAC-SHA256 of `"<t>.<body>"` under `secret`.
fn signed(header: &str, secret: &[u8], body: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_one_verifiable_event_per_settlement_through_refusals_and_restarts() {
    const SECRET: &str = "webhook-signing-secret";
    let world = DevnetWorld::new();
    let upstream_url = serve(upstream(Arc::new(Seen::default()))).await;
    let state = Arc::new(Receiver {
        refusals: AtomicUsize::new(2),
        ..Receiver::default()
    });
    let hook = serve(receiver(state.clone())).await;
    let outbox = std::env::temp_dir().join(format!("t402-gateway-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outbox);
    let extra = |url: &str| {
        format!(
            "webhook_outbox = \"{}\"\nwebhook_retry_ms = 20\n\n[[webhooks]]\nurl = \"{url}/hook\"\nsecret_env = \"T402_TEST_WEBHOOK_SECRET\"\n",
            outbox.display()
        )
    };
    let envs = [("T402_TEST_WEBHOOK_SECRET", SECRET.to_owned())];
    let gateway = start_with(&world, &upstream_url, "hooks", &extra(&hook), &envs).await;
    let paid = client(&world)
        .get(&format!("{}/weather", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let transaction = paid.receipt().unwrap().transaction.clone().unwrap();

    // Refused twice with 500, then accepted: three deliveries of one event, each signed.
    assert!(wait_for(|| state.deliveries.lock().unwrap().len() >= 3).await);
    let empty = || std::fs::read_dir(&outbox).unwrap().next().is_none();
    assert!(wait_for(empty).await, "the outbox empties once delivered");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let deliveries = state.deliveries.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 3, "no delivery after the accepted one");
    let ids: Vec<String> = deliveries
        .iter()
        .map(|(headers, _)| headers["t402-event-id"].to_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for (headers, body) in &deliveries {
        let signature = headers["t402-signature"].to_str().unwrap();
        assert!(signed(signature, SECRET.as_bytes(), body), "{signature}");
        assert!(!signed(signature, b"another secret", body));
    }
    let event: Value = serde_json::from_slice(&deliveries[0].1).unwrap();
    assert_eq!(event["type"], "payment.settled");
    assert_eq!(event["id"], ids[0].as_str());
    assert_eq!(event["path"], "/weather");
    assert_eq!(event["transaction"], transaction.as_str());
    assert_eq!(event["payer"], world.payer.address().to_checksum(None));
    drop(gateway);

    // The receiver is down: the event waits in the outbox, through a restart of the gateway.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}", down.local_addr().unwrap());
    drop(down);
    let gateway = start_with(&world, &upstream_url, "hooks", &extra(&down_url), &envs).await;
    let paid = client(&world)
        .get(&format!("{}/weather", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let waiting = || std::fs::read_dir(&outbox).unwrap().count() == 1;
    assert!(wait_for(waiting).await, "the event is in the outbox");
    drop(gateway);
    // Back up at the same address, and the gateway restarted: the event arrives.
    let listener = tokio::net::TcpListener::bind(down_url.trim_start_matches("http://"))
        .await
        .unwrap();
    let later = Arc::new(Receiver::default());
    let app = receiver(later.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let _gateway = start_with(&world, &upstream_url, "hooks", &extra(&down_url), &envs).await;
    assert!(wait_for(|| !later.deliveries.lock().unwrap().is_empty()).await);
    assert!(wait_for(empty).await);
    let event: Value = serde_json::from_slice(&later.deliveries.lock().unwrap()[0].1).unwrap();
    assert_eq!(event["type"], "payment.settled");
    assert_eq!(
        event["transaction"],
        paid.receipt()
            .unwrap()
            .transaction
            .clone()
            .unwrap()
            .as_str()
    );
    let _ = std::fs::remove_dir_all(&outbox);
}

const ENTITLEMENT_KEY: &str = "an-entitlement-signing-key-of-32-chars";

/// A gateway whose `GET /weather` and `GET /forecast` share group "weather" (2 requests per
/// payment) and whose `POST /echo` is group "echo"; with `store` (a Redis URL) shared.
async fn start_entitled(
    world: &DevnetWorld,
    upstream: &str,
    name: &str,
    facilitator: &str,
    store: Option<&str>,
) -> common::Facilitator {
    let dir = std::env::temp_dir().join(format!("t402-gateway-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let route = |pattern: &str, group: &str, requests: u64| {
        route_toml(
            world,
            pattern,
            10_000,
            &format!(
                "entitlement = {{ group = \"{group}\", requests = {requests}, seconds = 600 }}"
            ),
        )
    };
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\nentitlement_secret_env = \"T402_TEST_ENTITLEMENT_KEY\"\n{}\n[[facilitators]]\nurl = \"{facilitator}\"\n{}{}{}",
            if store.is_some() { "store_url_env = \"T402_TEST_STORE\"" } else { "" },
            route("GET /weather", "weather", 2),
            route("GET /forecast", "weather", 2),
            route("POST /echo", "echo", 5),
        ),
    )
    .unwrap();
    let mut envs = vec![("T402_TEST_ENTITLEMENT_KEY", ENTITLEMENT_KEY.to_owned())];
    if let Some(store) = store {
        envs.push(("T402_TEST_STORE", store.to_owned()));
    }
    common::start_command(
        &["gateway", "--config"],
        &config,
        &envs,
        "gateway listening on ",
    )
    .await
}

fn base_of(process: &common::Facilitator) -> String {
    process.base.split(',').next().unwrap().to_owned()
}

/// A token signed with `key`, as the gateway makes them.
fn craft(key: &str, group: &str, expires: u64) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims =
        json!({"id": "crafted", "group": group, "payer": "0x1", "requests": 9, "expires": expires});
    let payload = engine.encode(claims.to_string());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!(
        "t402e.{payload}.{}",
        engine.encode(mac.finalize().into_bytes())
    )
}

async fn get_with_token(url: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entitlement_buys_requests_on_its_group_and_nothing_else() {
    let world = DevnetWorld::new();
    let seen = Arc::new(Seen::default());
    let upstream_url = serve(upstream(seen.clone())).await;
    let facilitator = serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let gateway = start_entitled(&world, &upstream_url, "entitled", &facilitator, None).await;
    let base = base_of(&gateway);
    let paid_to = || async {
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap()
    };

    // One payment buys the session: the answer carries the token and a cookie.
    let paid = client(&world)
        .get(&format!("{base}/weather"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text());
    let token = paid.headers()["t402-entitlement"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("t402e."), "{token}");
    let cookie = paid.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("t402_entitlement={token}; Path=/; Max-Age=600")),
        "{cookie}"
    );
    assert_eq!(paid_to().await, U256::from(10_000u64));
    let hits = seen.hits.load(Ordering::SeqCst);

    // Two uses on the group, by bearer and by cookie, without paying; the token never reaches
    // the upstream.
    let first = get_with_token(&format!("{base}/weather"), &token).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["t402-entitlement-remaining"], "1");
    let second = reqwest::Client::new()
        .get(format!("{base}/forecast"))
        .header("cookie", format!("theme=dark; t402_entitlement={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["t402-entitlement-remaining"], "0");
    let (_, _, headers, _) = seen.last.lock().unwrap().clone().unwrap();
    assert!(!headers.contains_key("authorization"));
    assert_eq!(
        seen.hits.load(Ordering::SeqCst),
        hits + 2,
        "both uses reached the upstream"
    );
    // Used up: pay again.
    let third = get_with_token(&format!("{base}/weather"), &token).await;
    assert_eq!(third.status(), 402);
    assert_eq!(
        paid_to().await,
        U256::from(10_000u64),
        "the uses cost nothing"
    );

    // Another group's route, a forged token, an expired one: pay.
    let fresh = client(&world)
        .get(&format!("{base}/forecast"))
        .send()
        .await
        .unwrap();
    let fresh = fresh.headers()["t402-entitlement"]
        .to_str()
        .unwrap()
        .to_owned();
    let echo = reqwest::Client::new()
        .post(format!("{base}/echo"))
        .bearer_auth(&fresh)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 402, "a weather token buys nothing on echo");
    let mut forged = fresh.clone().into_bytes();
    let at = forged.len() - 5;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        get_with_token(&format!("{base}/weather"), &forged)
            .await
            .status(),
        402
    );
    assert_eq!(
        get_with_token(
            &format!("{base}/weather"),
            &craft("another-key-of-thirty-two-chars!", "weather", u64::MAX)
        )
        .await
        .status(),
        402,
        "signed with another key"
    );
    assert_eq!(
        get_with_token(
            &format!("{base}/weather"),
            &craft(ENTITLEMENT_KEY, "weather", 1)
        )
        .await
        .status(),
        402,
        "expired"
    );
    assert_eq!(
        get_with_token(
            &format!("{base}/weather"),
            &craft(ENTITLEMENT_KEY, "weather", u64::MAX / 2)
        )
        .await
        .status(),
        200,
        "the gateway's own key, valid: accepted (the crafted ones differ only where they must)"
    );
    assert_eq!(
        get_with_token(&format!("{base}/weather"), &fresh)
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_sharing_redis_honour_one_count() {
    let Some(redis) = t402_testkit::redis::RedisServer::start() else {
        return;
    };
    let world = DevnetWorld::new();
    let upstream_url = serve(upstream(Arc::new(Seen::default()))).await;
    let facilitator = serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let one = start_entitled(
        &world,
        &upstream_url,
        "redis-one",
        &facilitator,
        Some(&redis.url()),
    )
    .await;
    let two = start_entitled(
        &world,
        &upstream_url,
        "redis-two",
        &facilitator,
        Some(&redis.url()),
    )
    .await;
    let (one, two) = (base_of(&one), base_of(&two));
    let paid = client(&world)
        .get(&format!("{one}/weather"))
        .send()
        .await
        .unwrap();
    let token = paid.headers()["t402-entitlement"]
        .to_str()
        .unwrap()
        .to_owned();
    // Four uses tried at once, two on each instance: exactly the two the payment bought pass.
    let tasks: Vec<_> = [&one, &two, &one, &two]
        .into_iter()
        .map(|base| {
            let url = format!("{base}/weather");
            let token = token.clone();
            tokio::spawn(async move { get_with_token(&url, &token).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 200, 402, 402]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_follow_the_request_size_and_query() {
    let world = DevnetWorld::new();
    let upstream_url = serve(upstream(Arc::new(Seen::default()))).await;
    let facilitator = serve(t402_server::facilitator_router(world.facilitator.clone())).await;
    let dir = std::env::temp_dir().join(format!("t402-gateway-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let route = |pattern: &str, extra: &str| route_toml(&world, pattern, 1000, extra);
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"{upstream_url}\"\nmax_request_bytes = 10240\n\n[[facilitators]]\nurl = \"{facilitator}\"\n{}{}",
            route("POST /upload", "amount_per_kib = \"100\""),
            route(
                "GET /tiers",
                "amount_by_query = { param = \"tier\", amounts = { pro = \"5000\" } }"
            ),
        ),
    )
    .unwrap();
    let gateway = common::start_command(
        &["gateway", "--config"],
        &config,
        &[],
        "gateway listening on ",
    )
    .await;
    let base = base_of(&gateway);
    let http = reqwest::Client::new();
    let asked = |response: reqwest::Response| {
        let required = t402_core::codec::Codec::default()
            .decode_payment_required(response.headers()["payment-required"].to_str().unwrap())
            .unwrap();
        required.accepts[0].amount.to_string()
    };
    // 3000 bytes are 3 KiB: 1000 + 3 × 100.
    let upload = http
        .post(format!("{base}/upload"))
        .body(vec![7u8; 3000])
        .send()
        .await
        .unwrap();
    assert_eq!(asked(upload), "1300");
    let pro = http
        .get(format!("{base}/tiers?tier=pro"))
        .send()
        .await
        .unwrap();
    assert_eq!(asked(pro), "5000");
    let other = http
        .get(format!("{base}/tiers?tier=gold"))
        .send()
        .await
        .unwrap();
    assert_eq!(asked(other), "1000");
    // Paid at the computed price: 2048 bytes are 2 KiB.
    let paid = client(&world)
        .post(&format!("{base}/upload"))
        .body(vec![1u8; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text());
    assert_eq!(
        world
            .devnet
            .token_balance(world.token, world.pay_to)
            .await
            .unwrap(),
        U256::from(1_200u64)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
