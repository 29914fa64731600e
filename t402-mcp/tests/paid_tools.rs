//! Paid MCP tools in process, settling on the devnet: an rmcp server's tools priced with
//! `PaidTools`, called by `PayingClient` over an in-memory transport.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::RunningService;
use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient, ServerHandler, ServiceExt, tool,
    tool_handler, tool_router,
};
use serde_json::json;
use t402_client::{Payer, SpendPolicy};
use t402_core::{
    Amount, Facilitator, LocalFacilitator, Network, NetworkPattern, PaymentRequirements,
};
use t402_evm::devnet::Devnet;
use t402_evm::{ExactEvmClient, ExactEvmFacilitator, FacilitatorSigners};
use t402_mcp::{McpPayError, PaidTool, PaidTools, PayingClient, codec};

const CHAIN: u64 = 31337;
const PRICE: u64 = 10_000;

#[derive(Clone)]
struct Weather {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Weather {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "The weather in a city")]
    async fn get_weather(&self) -> Result<CallToolResult, McpError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "sunny, 21 °C",
        )]))
    }

    #[tool(description = "A tool that fails")]
    async fn broken(&self) -> Result<CallToolResult, McpError> {
        Ok(CallToolResult::error(vec![ContentBlock::text(
            "the sensor is down",
        )]))
    }

    #[tool(description = "Free")]
    async fn ping(&self) -> Result<CallToolResult, McpError> {
        Ok(CallToolResult::success(vec![ContentBlock::text("pong")]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Weather {}

#[derive(Clone, Default)]
struct NoClient;
impl ClientHandler for NoClient {}

struct World {
    chain: u64,
    devnet: Arc<Devnet>,
    token: Address,
    payer: PrivateKeySigner,
    pay_to: Address,
    facilitator: Arc<dyn Facilitator>,
}

impl World {
    fn new() -> Self {
        Self::on_chain(CHAIN)
    }

    /// A devnet with chain id `chain`; its facilitator also serves v1 when the chain has a v1
    /// name.
    fn on_chain(chain: u64) -> Self {
        let devnet = Arc::new(Devnet::new(chain));
        let token = devnet
            .deploy_test_token("USD Coin", "2", "USDC", 6)
            .unwrap();
        let payer = PrivateKeySigner::random();
        devnet
            .mint(token, payer.address(), U256::from(1_000_000u64))
            .unwrap();
        let key = PrivateKeySigner::random();
        devnet.fund(key.address(), U256::from(10u64).pow(U256::from(19)));
        let evm = ExactEvmFacilitator::new(
            devnet.clone(),
            FacilitatorSigners::new(chain, [key]).unwrap(),
        )
        .unwrap()
        .with_receipt_poll_interval(Duration::from_millis(5));
        let evm = Arc::new(evm);
        let mut local = LocalFacilitator::new().register([Network::eip155(chain)], evm.clone());
        if Network::eip155(chain).legacy_name().is_some() {
            local = local.register_v1([Network::eip155(chain)], evm).unwrap();
        }
        let facilitator: Arc<dyn Facilitator> = Arc::new(local);
        Self {
            chain,
            devnet,
            token,
            payer,
            pay_to: Address::random(),
            facilitator,
        }
    }

    fn offer(&self) -> PaymentRequirements {
        serde_json::from_value(json!({
            "scheme": "exact", "network": format!("eip155:{}", self.chain), "amount": PRICE.to_string(),
            "asset": self.token.to_checksum(None), "payTo": self.pay_to.to_checksum(None),
            "maxTimeoutSeconds": 60, "extra": {"name": "USD Coin", "version": "2"}
        }))
        .unwrap()
    }

    /// The weather server with `get_weather` and `broken` priced, reached through
    /// `facilitator`; and a client connected to it.
    async fn connect(
        &self,
        facilitator: Arc<dyn Facilitator>,
    ) -> RunningService<RoleClient, NoClient> {
        let server = PaidTools::new(Weather::new(), facilitator)
            .replay_guard(Arc::new(t402_core::MemorySettlementStore::new()))
            .mechanism(Arc::new(t402_evm::ExactEvmServer))
            .tool(PaidTool::new("get_weather", vec![self.offer()]).description("Weather"))
            .tool(PaidTool::new("broken", vec![self.offer()]));
        let (client_side, server_side) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let running = server.serve(server_side).await.unwrap();
            let _ = running.waiting().await;
        });
        NoClient.serve(client_side).await.unwrap()
    }

    /// The payer, allowed 0.05 of the test token per call.
    fn payer(&self) -> Payer {
        self.payer_with(self.policy("0.05"))
    }

    /// The payer under `policy`.
    fn payer_with(&self, policy: SpendPolicy) -> Payer {
        Self::signing(self.payer.clone(), policy)
    }

    /// A payer signing with `key` under `policy`.
    fn signing(key: PrivateKeySigner, policy: SpendPolicy) -> Payer {
        Payer::new()
            .mechanism(
                NetworkPattern::parse("eip155:*").unwrap(),
                Arc::new(ExactEvmClient::new(key)),
            )
            .policy(policy)
    }

    /// A policy allowing the test token, at most `per_call` per call.
    fn policy(&self, per_call: &str) -> SpendPolicy {
        SpendPolicy::new()
            .allow_asset(
                Network::eip155(self.chain),
                &self.token.to_checksum(None),
                6,
                Some(per_call),
            )
            .unwrap()
    }

    async fn received(&self) -> U256 {
        self.devnet
            .token_balance(self.token, self.pay_to)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_unpaid_call_gets_the_challenge_in_structured_content_and_text() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let result = client
        .peer()
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(structured["x402Version"], 2);
    assert_eq!(structured["resource"]["url"], "mcp://tool/get_weather");
    assert_eq!(structured["accepts"][0]["amount"], PRICE.to_string());
    let text: serde_json::Value =
        serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(text, structured, "the same JSON as text");
    // autopay off: a typed error carrying the challenge.
    let paying = PayingClient::new(client.peer().clone(), world.payer()).autopay(false);
    match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Err(McpPayError::PaymentRequired(challenge)) => assert_eq!(*challenge, structured),
        other => panic!("{other:?}"),
    }
    // Free tools pass through.
    let free = paying
        .call_tool(CallToolRequestParams::new("ping"))
        .await
        .unwrap();
    assert!(free.settlement.is_none());
    assert_eq!(world.received().await, U256::ZERO);
}

#[tokio::test]
async fn a_paid_call_runs_the_tool_settles_and_attaches_the_settlement() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let paying = PayingClient::new(client.peer().clone(), world.payer());
    let paid = paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    assert_eq!(
        paid.result.content[0].as_text().unwrap().text,
        "sunny, 21 °C"
    );
    let settlement = paid.settlement.expect("a settlement");
    assert!(settlement.success, "{settlement:?}");
    assert!(
        paid.result
            .meta
            .unwrap()
            .0
            .contains_key(codec::PAYMENT_RESPONSE_META_KEY)
    );
    assert_eq!(paid.paid.unwrap().amount, Amount::from(PRICE));
    assert_eq!(world.received().await, U256::from(PRICE));
}

#[tokio::test]
async fn a_tool_error_is_returned_and_nothing_is_settled() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let paying = PayingClient::new(client.peer().clone(), world.payer());
    let result = paying
        .call_tool(CallToolRequestParams::new("broken"))
        .await
        .unwrap();
    assert_eq!(result.result.is_error, Some(true));
    assert_eq!(
        result.result.content[0].as_text().unwrap().text,
        "the sensor is down"
    );
    assert!(result.settlement.is_none());
    assert_eq!(world.received().await, U256::ZERO);
}

#[tokio::test]
async fn paid_tools_are_listed_without_an_output_schema() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let tools = client.peer().list_tools(None).await.unwrap().tools;
    let weather = tools
        .iter()
        .find(|tool| tool.name == "get_weather")
        .unwrap();
    assert!(weather.output_schema.is_none());
    assert!(tools.iter().any(|tool| tool.name == "ping"));
}

#[tokio::test]
async fn an_invalid_payment_is_refused_with_the_reason_and_never_paid_twice() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    // A payer without funds: verification refuses (simulation), the client does not pay again.
    let payer = World::signing(PrivateKeySigner::random(), world.policy("0.05"));
    let paying = PayingClient::new(client.peer().clone(), payer);
    match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Err(McpPayError::Refused { reason, .. }) => {
            assert_eq!(reason, "invalid_exact_evm_insufficient_balance")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(world.received().await, U256::ZERO);
}

#[tokio::test]
async fn the_spending_policy_applies() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let payer = world.payer_with(world.policy("0.001"));
    let paying = PayingClient::new(client.peer().clone(), payer);
    match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Err(McpPayError::Payment(t402_client::ClientError::NoAcceptableOffer { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(world.received().await, U256::ZERO);
}

/// A facilitator that verifies through the real one and refuses every settlement.
struct RefusingSettlement(Arc<dyn Facilitator>);

impl Facilitator for RefusingSettlement {
    fn verify<'a>(
        &'a self,
        request: &'a t402_core::FacilitatorRequest,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::VerifyResponse, t402_core::FacilitatorError>>
    {
        self.0.verify(request)
    }

    fn settle<'a>(
        &'a self,
        _request: &'a t402_core::FacilitatorRequest,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::SettleResponse, t402_core::FacilitatorError>>
    {
        Box::pin(async {
            Ok(t402_core::SettleResponse::failure(
                t402_core::Reason::InvalidExactEvmInsufficientBalance,
                format!("eip155:{CHAIN}"),
                None,
            ))
        })
    }

    fn supported<'a>(
        &'a self,
    ) -> t402_core::BoxFuture<'a, Result<t402_core::SupportedResponse, t402_core::FacilitatorError>>
    {
        self.0.supported()
    }
}

#[tokio::test]
async fn a_failed_settlement_withholds_the_output_and_reports_the_settlement() {
    let world = World::new();
    let client = world
        .connect(Arc::new(RefusingSettlement(world.facilitator.clone())))
        .await;
    let paying = PayingClient::new(client.peer().clone(), world.payer());
    match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Err(McpPayError::SettlementFailed(settled)) => {
            assert_eq!(
                settled.error_reason,
                Some(t402_core::Reason::InvalidExactEvmInsufficientBalance)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_payment_presented_again_is_refused_and_settles_once() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    let peer = client.peer();
    let unpaid = peer
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    let required = codec::read_payment_required(&unpaid).unwrap();
    let payer = world.payer();
    let challenge = t402_client::Challenge::from_json(required).unwrap();
    let prepared = payer
        .prepare(&challenge, "mcp://tool/get_weather", None)
        .await
        .unwrap();
    let mut params = CallToolRequestParams::new("get_weather");
    codec::attach_payment(&mut params, prepared.payment.to_json());
    let first = peer.call_tool(params.clone()).await.unwrap();
    assert!(codec::read_settlement(&first).unwrap().success);
    let again = peer.call_tool(params).await.unwrap();
    let refused = codec::read_payment_required(&again).expect("payment required again");
    assert_eq!(refused["error"], "t402_payment_replayed");
    assert_eq!(world.received().await, U256::from(PRICE));
}

#[tokio::test]
async fn a_v1_tool_challenges_in_v1_and_is_paid_and_settled_in_v1() {
    // Base Sepolia's chain id, whose v1 name is `base-sepolia`.
    let world = World::on_chain(84532);
    let tool = PaidTool::new("get_weather", vec![world.offer()])
        .description("Weather")
        .protocol_v1()
        .unwrap();
    let server = PaidTools::new(Weather::new(), world.facilitator.clone())
        .replay_guard(Arc::new(t402_core::MemorySettlementStore::new()))
        .mechanism(Arc::new(t402_evm::ExactEvmServer))
        .tool(tool);
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let running = server.serve(server_side).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = NoClient.serve(client_side).await.unwrap();

    let unpaid = client
        .peer()
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    let required = codec::read_payment_required(&unpaid).unwrap();
    assert_eq!(required["x402Version"], 1);
    let offer = &required["accepts"][0];
    assert_eq!(offer["maxAmountRequired"], PRICE.to_string());
    assert_eq!(offer["network"], "base-sepolia");
    assert_eq!(offer["resource"], "mcp://tool/get_weather");
    assert_eq!(offer["description"], "Weather");

    let paid = PayingClient::new(client.peer().clone(), world.payer())
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    assert_eq!(paid.result.is_error, Some(false));
    let settlement = paid.settlement.unwrap();
    assert!(settlement.success, "{settlement:?}");
    assert_eq!(settlement.network, "base-sepolia");
    assert_eq!(world.received().await, U256::from(PRICE));
}

#[test]
fn a_v1_tool_needs_networks_with_v1_names() {
    // Chain 31337 has no v1 name.
    let offer = World::new().offer();
    assert!(
        PaidTool::new("get_weather", vec![offer])
            .protocol_v1()
            .is_err()
    );
}

/// Hooks that note what they are told, and let calls run or not.
struct Noting {
    allow: bool,
    seen: std::sync::Mutex<Vec<String>>,
}

impl t402_mcp::PaidToolHooks for Noting {
    fn before_execution<'a>(
        &'a self,
        call: &'a t402_mcp::PaidCall<'a>,
    ) -> t402_core::error::BoxFuture<'a, bool> {
        let city = call
            .arguments
            .and_then(|arguments| arguments.get("city"))
            .and_then(|city| city.as_str())
            .unwrap_or("-");
        self.seen.lock().unwrap().push(format!(
            "before {} {city} v{}",
            call.tool,
            call.payment.version()
        ));
        Box::pin(async move { self.allow })
    }

    fn after_execution<'a>(
        &'a self,
        call: &'a t402_mcp::PaidCall<'a>,
        result: &'a CallToolResult,
    ) -> t402_core::error::BoxFuture<'a, ()> {
        let error = result.is_error == Some(true);
        self.seen
            .lock()
            .unwrap()
            .push(format!("after {} error={error}", call.tool));
        Box::pin(async {})
    }

    fn after_settlement<'a>(
        &'a self,
        call: &'a t402_mcp::PaidCall<'a>,
        settled: &'a t402_core::SettleResponse,
    ) -> t402_core::error::BoxFuture<'a, ()> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("settled {} {}", call.tool, settled.success));
        Box::pin(async {})
    }
}

async fn connect_with_hooks(
    world: &World,
    hooks: Arc<Noting>,
) -> RunningService<RoleClient, NoClient> {
    let server = PaidTools::new(Weather::new(), world.facilitator.clone())
        .replay_guard(Arc::new(t402_core::MemorySettlementStore::new()))
        .mechanism(Arc::new(t402_evm::ExactEvmServer))
        .hooks(hooks)
        .tool(PaidTool::new("get_weather", vec![world.offer()]))
        .tool(PaidTool::new("broken", vec![world.offer()]));
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let running = server.serve(server_side).await.unwrap();
        let _ = running.waiting().await;
    });
    NoClient.serve(client_side).await.unwrap()
}

#[tokio::test]
async fn hooks_see_each_step_of_a_paid_call() {
    let world = World::new();
    let hooks = Arc::new(Noting {
        allow: true,
        seen: Default::default(),
    });
    let client = connect_with_hooks(&world, hooks.clone()).await;
    let mut call = CallToolRequestParams::new("get_weather");
    call.arguments = Some(json!({"city": "Paris"}).as_object().unwrap().clone());
    let paying = PayingClient::new(client.peer().clone(), world.payer());
    paying.call_tool(call).await.unwrap();
    // A tool error: the hooks see it, and nothing is settled.
    let failed = paying
        .call_tool(CallToolRequestParams::new("broken"))
        .await
        .unwrap();
    assert_eq!(failed.result.is_error, Some(true));
    assert_eq!(
        *hooks.seen.lock().unwrap(),
        [
            "before get_weather Paris v2",
            "after get_weather error=false",
            "settled get_weather true",
            "before broken - v2",
            "after broken error=true",
        ]
    );
    assert_eq!(world.received().await, U256::from(PRICE));
}

#[tokio::test]
async fn a_hook_can_stop_the_call_before_the_tool_runs() {
    let world = World::new();
    let hooks = Arc::new(Noting {
        allow: false,
        seen: Default::default(),
    });
    let client = connect_with_hooks(&world, hooks.clone()).await;
    let refused = PayingClient::new(client.peer().clone(), world.payer())
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap_err();
    match refused {
        McpPayError::Refused { reason, .. } => assert_eq!(reason, "Execution blocked by hook"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The tool never ran and nothing was settled.
    assert_eq!(*hooks.seen.lock().unwrap(), ["before get_weather - v2"]);
    assert_eq!(world.received().await, U256::ZERO);
}

#[tokio::test]
async fn the_budget_is_shared_across_calls_and_never_overspent() {
    let world = World::new();
    let client = world.connect(world.facilitator.clone()).await;
    // Room for one call at 0.01, not two.
    let budget = t402_client::Budget::new("0.015", Duration::from_secs(3600)).unwrap();
    let payer = world.payer_with(world.policy("0.05").budget(budget.clone()));
    let paying = PayingClient::new(client.peer().clone(), payer);
    let first = paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
        .unwrap();
    assert!(first.settlement.unwrap().success);
    match paying
        .call_tool(CallToolRequestParams::new("get_weather"))
        .await
    {
        Err(McpPayError::Payment(t402_client::ClientError::OverBudget(_))) => {}
        other => panic!("expected the budget to refuse, got {other:?}"),
    }
    assert_eq!(budget.spent(), "0.01");
    assert_eq!(world.received().await, U256::from(PRICE));
}
