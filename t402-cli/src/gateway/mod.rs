//! `t402 gateway --config FILE`: a reverse proxy that puts a price on routes of an existing HTTP
//! API without changing it. Requests to priced routes go through the payment layer (challenge,
//! verification, settlement, replay guard); every request that passes is forwarded to the
//! upstream. One JSON line per paid request goes to the metering log.
//!
//! ```toml
//! listen = "127.0.0.1:4021"
//! upstream = "http://127.0.0.1:8080"         # the API's base URL
//! upstream_headers = { authorization = "UPSTREAM_AUTHORIZATION" }   # values from variables
//! max_request_bytes = 1048576                 # optional (1 MiB)
//! max_response_bytes = 8388608                # optional: held until settlement (8 MiB)
//! timeout_secs = 30                           # optional
//! metering_log = "metering.jsonl"             # optional; "-" for standard output
//! metrics_listen = "127.0.0.1:9402"           # optional: GET /metrics there
//! webhook_outbox = "outbox"                   # with webhooks: events wait here until delivered
//! store_url_env = "T402_STORE_URL"            # optional: Redis shared by gateway instances
//! entitlement_secret_env = "ENTITLEMENT_KEY"  # with entitlements: their signing key
//!
//! [[webhooks]]
//! url = "https://billing.example/t402"
//! secret_env = "WEBHOOK_SECRET"               # HMAC-SHA256 key
//!
//! [[facilitators]]
//! url = "https://facilitator.example"         # or url_env = "FACILITATOR_URL"
//! api_key_env = "FACILITATOR_API_KEY"         # optional: sent as a bearer token
//!
//! [[routes]]
//! pattern = "GET /weather"
//! network = "eip155:84532"
//! pay_to = "0x…"
//! price = "$0.001"                            # money, in the network's USDC; or:
//! # amount = "1000"; asset = "0x…"; decimals = 6; eip712_name = "USDC"; eip712_version = "2"
//! settle = "after"                            # or "before"; streaming = true implies before
//! description = "Today's weather"
//! entitlement = { group = "weather", requests = 100, seconds = 3600 }   # optional
//! ```

mod entitlements;
mod metering;
mod proxy;
mod webhooks;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use serde::Deserialize;
use t402_core::{AssetAmount, Network, NetworkPattern, Price};
use t402_server::facilitator::{Endpoint, HttpFacilitator};
use t402_server::metrics::LayerMetrics;
use t402_server::{PaymentLayer, PaymentOption, Route, SettleMode};

use crate::error::{CliError, env, exit};

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    listen: String,
    upstream: String,
    #[serde(default)]
    upstream_headers: BTreeMap<String, String>,
    #[serde(default = "default_max_request")]
    max_request_bytes: usize,
    #[serde(default = "default_max_response")]
    max_response_bytes: usize,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default)]
    metering_log: Option<String>,
    /// Where `GET /metrics` is served (apart from the proxied API, whose paths are its own).
    #[serde(default)]
    metrics_listen: Option<String>,
    /// The directory holding webhook events until they are delivered.
    #[serde(default)]
    webhook_outbox: Option<PathBuf>,
    /// The first retry delay of a webhook not delivered (doubled each time, at most a minute).
    #[serde(default = "default_webhook_retry")]
    webhook_retry_ms: u64,
    #[serde(default)]
    webhooks: Vec<WebhookConfig>,
    /// The variable holding the key entitlement tokens are signed with.
    #[serde(default)]
    entitlement_secret_env: Option<String>,
    /// The variable holding the settlement store's URL (Redis): the replay guard and the
    /// entitlement counts, shared by every gateway instance naming the same one.
    #[serde(default)]
    store_url_env: Option<String>,
    facilitators: Vec<FacilitatorConfig>,
    routes: Vec<RouteConfig>,
}

fn default_max_request() -> usize {
    1024 * 1024
}

fn default_max_response() -> usize {
    t402_server::config::DEFAULT_MAX_BUFFERED_BYTES
}

fn default_timeout() -> u64 {
    30
}

fn default_webhook_retry() -> u64 {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookConfig {
    url: String,
    secret_env: String,
}

/// The webhooks the file names, started (their outbox delivered again).
fn webhooks(config: &Config) -> Result<Option<webhooks::Webhooks>, CliError> {
    if config.webhooks.is_empty() {
        return Ok(None);
    }
    let outbox = config
        .webhook_outbox
        .as_ref()
        .ok_or_else(|| input("webhooks need `webhook_outbox`, the directory events wait in"))?;
    let mut endpoints = Vec::new();
    for webhook in &config.webhooks {
        endpoints.push(webhooks::Endpoint {
            url: webhook.url.clone(),
            secret: Arc::new(env(&webhook.secret_env)?.into_bytes()),
        });
    }
    webhooks::Webhooks::start(
        endpoints,
        outbox,
        Duration::from_millis(config.webhook_retry_ms),
    )
    .map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FacilitatorConfig {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    url_env: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteConfig {
    pattern: String,
    network: String,
    pay_to: String,
    #[serde(default = "exact")]
    scheme: String,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    decimals: Option<u8>,
    #[serde(default)]
    eip712_name: Option<String>,
    #[serde(default)]
    eip712_version: Option<String>,
    #[serde(default)]
    settle: Option<String>,
    #[serde(default)]
    streaming: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    max_timeout_seconds: Option<u64>,
    /// What one payment buys on this route's group.
    #[serde(default)]
    entitlement: Option<entitlements::Grant>,
    /// With `amount`: added per KiB of request body (by `Content-Length`; a request without one
    /// is priced at `max_request_bytes`, the most it may send).
    #[serde(default)]
    amount_per_kib: Option<String>,
    /// With `amount`: the amount named by a query parameter's value (`amount` otherwise).
    #[serde(default)]
    amount_by_query: Option<QueryPrices>,
}

/// Amounts chosen by a query parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryPrices {
    /// The parameter (`tier` in `?tier=pro`).
    param: String,
    /// The amount of each value.
    amounts: BTreeMap<String, String>,
}

fn exact() -> String {
    "exact".into()
}

fn input(message: impl Into<String>) -> CliError {
    CliError::new(exit::INPUT, message)
}

/// One route's payment option.
fn option(route: &RouteConfig, max_request_bytes: usize) -> Result<PaymentOption, CliError> {
    let at = |what: &str| input(format!("route `{}`: {what}", route.pattern));
    let network = Network::parse_lenient(&route.network).map_err(|err| at(&err.to_string()))?;
    let price = match (&route.price, &route.amount, &route.asset) {
        (Some(money), None, None) => Price::money(money).map_err(|err| at(&err.to_string()))?,
        (None, Some(amount), Some(asset)) => {
            let amount = amount.parse().map_err(|_| at("amount is not an integer"))?;
            let mut price = AssetAmount::new(asset.clone(), amount);
            if let (Some(name), Some(version)) = (&route.eip712_name, &route.eip712_version) {
                let mut extra = serde_json::Map::new();
                extra.insert("name".into(), name.clone().into());
                extra.insert("version".into(), version.clone().into());
                price = price.with_extra(extra);
            }
            Price::Asset(price)
        }
        _ => return Err(at("give either `price` or both `amount` and `asset`")),
    };
    let mut option = PaymentOption::new(
        route.scheme.clone(),
        network,
        price.clone(),
        route.pay_to.clone(),
    );
    if route.amount_per_kib.is_some() || route.amount_by_query.is_some() {
        let Price::Asset(base) = price else {
            return Err(at(
                "`amount_per_kib` and `amount_by_query` go with `amount` and `asset`",
            ));
        };
        let parse = |text: &str| -> Result<t402_core::Amount, CliError> {
            text.parse()
                .map_err(|_| at(&format!("`{text}` is not an integer amount")))
        };
        let per_kib = route.amount_per_kib.as_deref().map(parse).transpose()?;
        let by_query = match &route.amount_by_query {
            Some(prices) => {
                let mut amounts = BTreeMap::new();
                for (value, amount) in &prices.amounts {
                    amounts.insert(value.clone(), parse(amount)?);
                }
                Some((prices.param.clone(), amounts))
            }
            None => None,
        };
        option = option.price_from(move |parts: &http::request::Parts| {
            variable_price(&base, per_kib, by_query.as_ref(), max_request_bytes, parts)
        });
    }
    if let Some(decimals) = route.decimals {
        option = option.decimals(decimals);
    }
    if let Some(seconds) = route.max_timeout_seconds {
        option = option.max_timeout_seconds(seconds);
    }
    Ok(option)
}

/// The price of one request on a route priced by its size or its query.
fn variable_price(
    base: &AssetAmount,
    per_kib: Option<t402_core::Amount>,
    by_query: Option<&(String, BTreeMap<String, t402_core::Amount>)>,
    max_request_bytes: usize,
    parts: &http::request::Parts,
) -> Result<Price, String> {
    let mut amount = base.amount.as_u256();
    if let Some((param, amounts)) = by_query {
        let chosen = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name == param)
                .and_then(|(_, value)| amounts.get(value))
        });
        if let Some(chosen) = chosen {
            amount = chosen.as_u256();
        }
    }
    if let Some(per_kib) = per_kib {
        let bytes = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(max_request_bytes as u64);
        let kib = bytes.div_ceil(1024);
        let extra = per_kib
            .as_u256()
            .checked_mul(alloy_primitives::U256::from(kib))
            .ok_or("the size price overflows")?;
        amount = amount
            .checked_add(extra)
            .ok_or("the size price overflows")?;
    }
    let mut price = AssetAmount::new(base.asset.clone(), t402_core::Amount::from(amount));
    if let Some(extra) = &base.extra {
        price = price.with_extra(extra.clone());
    }
    Ok(Price::Asset(price))
}

/// The facilitator clients the file names, with their API keys.
fn facilitators(config: &Config) -> Result<Vec<HttpFacilitator>, CliError> {
    if config.facilitators.is_empty() {
        return Err(input("the configuration names no facilitator"));
    }
    let mut out = Vec::new();
    for facilitator in &config.facilitators {
        let url = match (&facilitator.url, &facilitator.url_env) {
            (Some(url), None) => url.clone(),
            (None, Some(name)) => env(name)?,
            _ => return Err(input("a facilitator has either `url` or `url_env`")),
        };
        let mut client =
            HttpFacilitator::new(&url).map_err(|err| input(format!("facilitator: {err}")))?;
        if let Some(name) = &facilitator.api_key_env {
            let value = HeaderValue::try_from(format!("Bearer {}", env(name)?.trim()))
                .map_err(|_| input(format!("{name} is not a valid header value")))?;
            client = client.with_auth_headers(move |_: Endpoint| {
                let mut headers = HeaderMap::new();
                headers.insert(http::header::AUTHORIZATION, value.clone());
                headers
            });
        }
        out.push(client);
    }
    Ok(out)
}

/// The gateway's app: the payment layer over the proxy, with the metering log around it.
/// `initialize` asks the facilitators what they support and checks every route against it.
async fn app(
    config: &Config,
    initialize: bool,
    metrics: Option<&LayerMetrics>,
    hooks: Option<&webhooks::Webhooks>,
    store: Arc<dyn t402_core::SettlementStore>,
) -> Result<Router, CliError> {
    let base: Uri = config
        .upstream
        .parse()
        .map_err(|_| input(format!("upstream `{}` is not a URL", config.upstream)))?;
    if !matches!(base.scheme_str(), Some("http" | "https")) || base.authority().is_none() {
        return Err(input(format!(
            "upstream `{}` is not an http(s) URL",
            config.upstream
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, variable) in &config.upstream_headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| input(format!("upstream header `{name}`")))?;
        let value = HeaderValue::try_from(env(variable)?)
            .map_err(|_| input(format!("{variable} is not a valid header value")))?;
        headers.insert(name, value);
    }
    let upstream = proxy::Upstream::new(
        base,
        headers,
        config.max_request_bytes,
        Duration::from_secs(config.timeout_secs),
    );
    let mut builder = PaymentLayer::builder()
        .mechanism(
            NetworkPattern::parse("eip155:*").expect("a valid pattern"),
            t402_evm::ExactEvmServer,
        )
        .mechanism(
            NetworkPattern::parse("solana:*").expect("a valid pattern"),
            t402_svm::ExactSvmServer,
        )
        .without_paywall();
    for facilitator in facilitators(config)? {
        builder = builder.facilitator(facilitator);
    }
    if config.routes.is_empty() {
        return Err(input("the configuration prices no route"));
    }
    for route in &config.routes {
        let mut priced = Route::new(option(route, config.max_request_bytes)?)
            .max_buffered_bytes(config.max_response_bytes);
        let before = match route.settle.as_deref() {
            None | Some("after") => route.streaming,
            Some("before") => true,
            Some(other) => {
                return Err(input(format!(
                    "route `{}`: settle is `before` or `after`, not `{other}`",
                    route.pattern
                )));
            }
        };
        if before {
            priced = priced.settle(SettleMode::BeforeHandler);
        }
        if route.streaming {
            priced = priced.streaming();
        }
        if let Some(description) = &route.description {
            priced = priced.description(description.clone());
        }
        builder = builder.route(&route.pattern, priced);
    }
    if let Some(metrics) = metrics {
        builder = builder.metrics(metrics.clone());
    }
    if let Some(hooks) = hooks {
        builder = builder.hooks(hooks.clone());
    }
    builder = builder.settlement_store(store.clone());
    let layer = builder.build().map_err(|err| input(err.to_string()))?;
    if initialize {
        layer
            .initialize()
            .await
            .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    }
    let log = metering::MeteringLog::open(config.metering_log.as_deref())?;
    let paid = Router::new()
        .fallback(proxy::forward)
        .with_state(upstream.clone())
        .layer(axum::middleware::from_fn(metering::measure))
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(log),
            metering::record,
        ));
    let Some(entitlements) = entitlements(config, store)? else {
        return Ok(paid);
    };
    let free = Router::new().fallback(proxy::forward).with_state(upstream);
    Ok(
        Router::new().fallback_service(tower::service_fn(
            move |request: axum::extract::Request| {
                entitled(entitlements.clone(), paid.clone(), free.clone(), request)
            },
        )),
    )
}

/// The routes with entitlements and the signing key, when any route has one.
fn entitlements(
    config: &Config,
    store: Arc<dyn t402_core::SettlementStore>,
) -> Result<Option<entitlements::Entitlements>, CliError> {
    let mut routes = Vec::new();
    for route in &config.routes {
        if let Some(grant) = &route.entitlement {
            if grant.requests == 0 || grant.seconds == 0 {
                return Err(input(format!(
                    "route `{}`: an entitlement allows at least one request for at least a second",
                    route.pattern
                )));
            }
            let pattern = t402_server::route::RoutePattern::parse(&route.pattern)
                .map_err(|err| input(format!("route `{}`: {err}", route.pattern)))?;
            routes.push((pattern, grant.clone()));
        }
    }
    if routes.is_empty() {
        return Ok(None);
    }
    let name = config.entitlement_secret_env.as_ref().ok_or_else(|| {
        input("entitlements need `entitlement_secret_env`, the variable holding their signing key")
    })?;
    let secret = env(name)?;
    if secret.len() < 32 {
        return Err(input(format!(
            "{name}: an entitlement key has 32 characters at least"
        )));
    }
    Ok(Some(entitlements::Entitlements::new(
        secret.into_bytes(),
        store,
        routes,
    )))
}

/// A request on an entitled route: a valid token is served without payment; otherwise the
/// request is paid for, and a settled payment is answered with a new token.
async fn entitled(
    entitlements: entitlements::Entitlements,
    paid: Router,
    free: Router,
    mut request: axum::extract::Request,
) -> Result<axum::response::Response, std::convert::Infallible> {
    let Some(grant) = entitlements
        .grant(request.method().as_str(), request.uri().path())
        .cloned()
    else {
        return tower::ServiceExt::oneshot(paid, request).await;
    };
    let token = entitlements::Entitlements::presented(request.headers());
    entitlements::Entitlements::strip(request.headers_mut());
    if let Some(token) = token {
        match entitlements.redeem(&token, &grant).await {
            Ok(Some(redeemed)) => {
                let mut response = tower::ServiceExt::oneshot(free, request).await?;
                response.headers_mut().insert(
                    entitlements::REMAINING_HEADER,
                    HeaderValue::from(redeemed.remaining),
                );
                return Ok(response);
            }
            // Forged, expired, another group's or used up: pay.
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "entitlement not counted");
                let answer = t402_server::PaymentError::StoreUnavailable(err).into_response();
                return Ok(answer.map(axum::body::Body::new));
            }
        }
    }
    let mut response = tower::ServiceExt::oneshot(paid, request).await?;
    let settled = response
        .headers()
        .contains_key(t402_core::codec::PAYMENT_RESPONSE_HEADER);
    if response.status().is_success()
        && settled
        && let Some(payer) = metering::payer_of(&response)
    {
        let token = entitlements.mint(&grant, &payer);
        for (name, value) in entitlements.grant_headers(&grant, &token) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

fn read(path: &std::path::Path) -> Result<Config, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|err| input(format!("{}: {err}", path.display())))?;
    toml::from_str(&text).map_err(|err| input(format!("{}: {err}", path.display())))
}

/// `--check`: reads the configuration and builds everything but the facilitators' answers
/// (every variable it names must be set, every route must parse), then says what it would serve.
pub(crate) async fn check(path: &std::path::Path) -> Result<crate::output::Output, CliError> {
    let config = read(path)?;
    // Built to check it, not served.
    for webhook in &config.webhooks {
        env(&webhook.secret_env)?;
    }
    let _app = app(
        &config,
        false,
        None,
        None,
        Arc::new(t402_core::MemorySettlementStore::new()),
    )
    .await?;
    let routes: Vec<serde_json::Value> = config
        .routes
        .iter()
        .map(|route| {
            serde_json::json!({
                "pattern": route.pattern,
                "network": route.network,
                "scheme": route.scheme,
                "price": route.price,
                "amount": route.amount,
                "asset": route.asset,
                "payTo": route.pay_to,
            })
        })
        .collect();
    let mut text = format!(
        "configuration {} is valid\nforwards to {}\n",
        path.display(),
        config.upstream
    );
    for route in &config.routes {
        let price = route
            .price
            .clone()
            .or_else(|| {
                route
                    .amount
                    .as_ref()
                    .map(|amount| format!("{amount} (atomic)"))
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "prices: {} at {price} on {} to {}\n",
            route.pattern, route.network, route.pay_to
        ));
    }
    Ok(crate::output::Output::new(
        text,
        serde_json::json!({"valid": true, "upstream": config.upstream, "routes": routes}),
    ))
}

/// Serves the gateway until SIGTERM or SIGINT. On SIGHUP the file is read again and, when it is
/// valid and the facilitators answer, its routes and prices replace the running ones; requests
/// and connections in flight are not dropped, and a file that does not load leaves the running
/// configuration as it was. (`listen` is read at start only.)
pub(crate) async fn serve(path: &std::path::Path, listen: Option<&str>) -> Result<(), CliError> {
    let config = read(path)?;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = LayerMetrics::register(&mut registry);
    let hooks = webhooks(&config)?;
    let store = settlement_store(&config).await?;
    let current = Arc::new(std::sync::RwLock::new(
        app(&config, true, Some(&metrics), hooks.as_ref(), store.clone()).await?,
    ));
    let listen = listen.unwrap_or(&config.listen).to_owned();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|err| input(format!("listen on {listen}: {err}")))?;
    let address = listener
        .local_addr()
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    println!(
        "gateway listening on http://{address}, forwarding to {}",
        config.upstream
    );
    tracing::info!(%address, upstream = %config.upstream, "gateway listening");
    if let Some(metrics_listen) = &config.metrics_listen {
        serve_metrics(metrics_listen, registry).await?;
    }
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(
        path.to_owned(),
        current.clone(),
        metrics,
        hooks,
        store,
    ));
    let front = Router::new().fallback_service(tower::service_fn(
        move |request: axum::extract::Request| {
            let app = current
                .read()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone();
            async move { tower::ServiceExt::oneshot(app, request).await }
        },
    ));
    axum::serve(listener, front)
        .with_graceful_shutdown(crate::facilitator::shutdown_signal())
        .await
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))
}

/// The settlement store: Redis when the file names one (shared by instances), else memory.
async fn settlement_store(
    config: &Config,
) -> Result<Arc<dyn t402_core::SettlementStore>, CliError> {
    match &config.store_url_env {
        Some(name) => {
            let url = env(name)?;
            let store = t402_server::store::RedisSettlementStore::connect(&url)
                .await
                .map_err(|err| {
                    CliError::new(
                        exit::TRANSPORT,
                        format!("settlement store via ${name}: {err}"),
                    )
                })?;
            Ok(Arc::new(store))
        }
        None => Ok(Arc::new(t402_core::MemorySettlementStore::new())),
    }
}

/// Serves the registry at `GET /metrics` on `address`, in the background.
async fn serve_metrics(
    address: &str,
    registry: prometheus_client::registry::Registry,
) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| input(format!("metrics_listen {address}: {err}")))?;
    let bound = listener
        .local_addr()
        .map_err(|err| CliError::new(exit::TRANSPORT, err.to_string()))?;
    println!("metrics on http://{bound}/metrics");
    let registry = Arc::new(registry);
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { t402_server::metrics::scrape(&registry) }
        }),
    );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::warn!(error = %err, "metrics listener stopped");
        }
    });
    Ok(())
}

/// Loads the file again on each SIGHUP and swaps the app when it loads.
#[cfg(unix)]
async fn reload_on_hangup(
    path: std::path::PathBuf,
    current: Arc<std::sync::RwLock<Router>>,
    metrics: LayerMetrics,
    hooks: Option<webhooks::Webhooks>,
    store: Arc<dyn t402_core::SettlementStore>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGHUP: prices are not reloaded");
            return;
        }
    };
    while hangup.recv().await.is_some() {
        let loaded = match read(&path) {
            // The webhooks stay those the gateway started with.
            Ok(config) => app(&config, true, Some(&metrics), hooks.as_ref(), store.clone()).await,
            Err(err) => Err(err),
        };
        match loaded {
            Ok(app) => {
                *current.write().unwrap_or_else(|poison| poison.into_inner()) = app;
                tracing::info!(path = %path.display(), "SIGHUP: configuration reloaded");
            }
            Err(err) => tracing::warn!(
                error = %err.message,
                "SIGHUP: the configuration does not load; the running one stays"
            ),
        }
    }
}
