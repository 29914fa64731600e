//! Paid tools: a wrapper around an rmcp server handler whose priced tools answer a
//! payment-required result until paid, then verify, run, and settle — in the reference's order — leaving the
//! tools' own code unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use std::borrow::Cow;
use std::future::Future;

#[allow(deprecated)] // `SetLevelRequestParams`, for the delegated legacy method
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    CancelledNotificationParam, CompleteRequestParams, CompleteResult, CustomNotification,
    CustomRequest, CustomResult, DiscoverResult, GetPromptRequestParams, GetPromptResponse,
    GetSkillRequestParams, GetSkillResult, GetTaskParams, GetTaskResult, InitializeRequestParams,
    InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListSkillsResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProtocolVersion, ReadResourceDirectoryRequestParams, ReadResourceDirectoryResult,
    ReadResourceRequestParams, ReadResourceResponse, ServerConfig, SetLevelRequestParams,
    SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{MaybeSendFuture, NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use t402_core::version::ProtocolVersion as X402Version;
use t402_core::wire::{
    PaymentPayloadV1, PaymentRequiredV1, PaymentRequirementsV1, VerifyRequestV1,
};
use t402_core::{
    Claim, Facilitator, FacilitatorRequest, Network, NetworkError, PaymentId, PaymentPayload,
    PaymentRequired, PaymentRequirements, Price, PriceError, Reason, ResourceInfo, ServerMechanism,
    SettleResponse, SettlementStore, VerifyRequest,
};

use crate::codec;
use crate::hooks::{NoHooks, PaidCall, PaidToolHooks};

/// A priced tool: what it accepts and how it is named to payers.
#[derive(Debug, Clone)]
pub struct PaidTool {
    name: String,
    accepts: Vec<PaymentRequirements>,
    resource: ResourceInfo,
    /// Challenges in protocol v1 (payments of either version are accepted).
    v1: bool,
}

impl PaidTool {
    /// Tool `name` accepting any of `accepts`; its resource is `mcp://tool/<name>`.
    pub fn new(name: impl Into<String>, accepts: Vec<PaymentRequirements>) -> Self {
        let name = name.into();
        Self {
            resource: ResourceInfo::new(format!("mcp://tool/{name}")),
            name,
            accepts,
            v1: false,
        }
    }

    /// Tool `name` priced at `price` on `network`, paid to `pay_to`; `server` turns the price
    /// into an amount of an asset (`"$0.01"` into the network's stablecoin).
    pub fn priced(
        name: impl Into<String>,
        server: &dyn ServerMechanism,
        price: &Price,
        network: Network,
        pay_to: impl Into<String>,
        max_timeout_seconds: u64,
    ) -> Result<Self, PriceError> {
        let amount = server.parse_price(price, &network)?;
        let mut requirements = PaymentRequirements::new(
            server.scheme().to_owned(),
            network,
            amount.amount,
            amount.asset,
            pay_to.into(),
            max_timeout_seconds,
        );
        if let Some(extra) = amount.extra {
            requirements = requirements.with_extra(extra);
        }
        Ok(Self::new(name, vec![requirements]))
    }

    /// The resource's description (shown to payers).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.resource = self.resource.with_description(description.into());
        self
    }

    /// The resource URL (default `mcp://tool/<name>`).
    #[must_use]
    pub fn resource(mut self, url: impl Into<String>) -> Self {
        let description = self.resource.description.take();
        self.resource = ResourceInfo::new(url.into());
        self.resource.description = description;
        self
    }

    /// Challenges in protocol v1, for payers that speak only v1: the payment-required result
    /// is a v1 `PaymentRequired` (`x402Version: 1`, `maxAmountRequired`, v1 network names, the
    /// resource in each offer). Payments of either version are accepted; a v1 payment is
    /// verified and settled as v1. Refused when an offer's network has no v1 name.
    pub fn protocol_v1(mut self) -> Result<Self, NetworkError> {
        for offer in &self.accepts {
            PaymentRequirementsV1::from_v2(offer, &self.resource)?;
        }
        self.v1 = true;
        Ok(self)
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the tool accepts.
    pub fn accepts(&self) -> &[PaymentRequirements] {
        &self.accepts
    }

    /// The challenge, with `error` as its text, in the tool's protocol version.
    fn payment_required(&self, error: &str) -> Value {
        if self.v1 {
            let accepts = self
                .accepts
                .iter()
                .filter_map(|offer| PaymentRequirementsV1::from_v2(offer, &self.resource).ok())
                .collect();
            let required = PaymentRequiredV1::new(accepts).with_error(error);
            return serde_json::to_value(required).expect("a challenge serializes");
        }
        let required =
            PaymentRequired::new(self.resource.clone(), self.accepts.clone()).with_error(error);
        serde_json::to_value(required).expect("a challenge serializes")
    }

    fn required_result(&self, error: &str) -> CallToolResult {
        codec::payment_required_result(&self.payment_required(error))
    }

    /// The facilitator request for a payment in `_meta` of either version, against the offer it
    /// pays; `Err` with the words of the refusal.
    fn facilitator_request(&self, raw: &Value) -> Result<FacilitatorRequest, String> {
        let decode_failed = |err: serde_json::Error| {
            format!(
                "{}: the payment does not decode: {err}",
                Reason::InvalidPayload
            )
        };
        if X402Version::of_json(raw).is_ok_and(|version| version.number == 1) {
            let payment: PaymentPayloadV1 =
                serde_json::from_value(raw.clone()).map_err(decode_failed)?;
            let offer = self
                .accepts
                .iter()
                .filter(|offer| offer.scheme == payment.scheme)
                .find_map(|offer| {
                    PaymentRequirementsV1::from_v2(offer, &self.resource)
                        .ok()
                        .filter(|v1| v1.network == payment.network)
                })
                .ok_or_else(|| Reason::NoMatchingRequirements.as_str().to_owned())?;
            return Ok(FacilitatorRequest::V1(VerifyRequestV1::new(payment, offer)));
        }
        let payment: PaymentPayload = serde_json::from_value(raw.clone()).map_err(decode_failed)?;
        let requirements = self
            .matching(&payment)
            .cloned()
            .ok_or_else(|| Reason::NoMatchingRequirements.as_str().to_owned())?;
        Ok(FacilitatorRequest::V2(VerifyRequest::new(
            payment,
            requirements,
        )))
    }

    /// The offer `payment` pays, by its `accepted` terms.
    fn matching(&self, payment: &PaymentPayload) -> Option<&PaymentRequirements> {
        let accepted = payment.accepted.requirements();
        self.accepts.iter().find(|offer| {
            offer.scheme == accepted.scheme
                && offer.network == accepted.network
                && offer.amount == accepted.amount
                && offer.asset.eq_ignore_ascii_case(&accepted.asset)
                && offer.pay_to.eq_ignore_ascii_case(&accepted.pay_to)
        })
    }
}

/// An rmcp server handler whose priced tools must be paid (x402 MCP transport). It is itself a
/// [`ServerHandler`], so it is served like the handler it wraps: over stdio, streamable HTTP or
/// any other rmcp transport. Everything else passes through to the wrapped handler unchanged; paid tools are listed without an `outputSchema`
/// (the TypeScript MCP SDK validates `structuredContent` against it even on error results).
///
/// A call of a paid tool: no `_meta["x402/payment"]` → payment-required result; a payment
/// matching none of the tool's offers or refused by the facilitator → payment-required result
/// with the reason; else the tool runs; a tool error is returned and nothing is settled;
/// otherwise the payment is settled and the settlement is attached to the result
/// (`_meta["x402/payment-response"]`), or, when settlement fails, a payment-required result
/// with the settlement and without the tool's output.
pub struct PaidTools<S> {
    inner: S,
    tools: Arc<HashMap<String, PaidTool>>,
    facilitator: Arc<dyn Facilitator>,
    store: Option<Arc<dyn SettlementStore>>,
    mechanisms: Vec<Arc<dyn ServerMechanism>>,
    hooks: Arc<dyn PaidToolHooks>,
}

/// Seconds a claim outlives the payment's `maxTimeoutSeconds`.
const CLAIM_MARGIN_SECS: u64 = 60;

impl<S> std::fmt::Debug for PaidTools<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidTools")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<S: ServerHandler> PaidTools<S> {
    /// Wraps `inner`, verifying and settling through `facilitator`.
    pub fn new(inner: S, facilitator: Arc<dyn Facilitator>) -> Self {
        Self {
            inner,
            tools: Arc::new(HashMap::new()),
            facilitator,
            store: None,
            mechanisms: Vec::new(),
            hooks: Arc::new(NoHooks),
        }
    }

    /// Calls `hooks` before each paid tool runs, after it ran, and after settlement.
    #[must_use]
    pub fn hooks(mut self, hooks: Arc<dyn PaidToolHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Refuses a payment presented again (`t402_payment_replayed`), as the HTTP layer's replay
    /// guard does: each payment is claimed in `store` before it is verified; the claim is given
    /// back when nothing was charged (refused, or the tool failed) and kept once settled. The
    /// payment's id comes from a registered [`mechanism`](Self::mechanism) of its scheme, else
    /// from the facilitator (an in-process `LocalFacilitator` names them).
    #[must_use]
    pub fn replay_guard(mut self, store: Arc<dyn SettlementStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// A server mechanism naming payments of its scheme for the replay guard.
    #[must_use]
    pub fn mechanism(mut self, mechanism: Arc<dyn ServerMechanism>) -> Self {
        self.mechanisms.push(mechanism);
        self
    }

    /// Claims the payment of `request`; `Err` with the answer when it cannot be served.
    async fn claim(
        &self,
        tool: &PaidTool,
        request: &FacilitatorRequest,
    ) -> Result<Option<(Arc<dyn SettlementStore>, PaymentId)>, CallToolResult> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        // A v1 payment is named as its v2 form is: the same payment either way.
        let converted;
        let verify = match request {
            FacilitatorRequest::V2(verify) => verify,
            FacilitatorRequest::V1(v1) => match v1.to_v2() {
                Ok(v2) => {
                    converted = v2;
                    &converted
                }
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        };
        let requirements = &verify.payment_requirements;
        let id = self
            .mechanisms
            .iter()
            .filter(|mechanism| mechanism.scheme() == requirements.scheme)
            .find_map(|mechanism| mechanism.payment_id(&verify.payment_payload, requirements))
            .or_else(|| self.facilitator.payment_id(request));
        let Some(id) = id else {
            return Ok(None);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let expires_at = now
            .saturating_add(requirements.max_timeout_seconds)
            .saturating_add(CLAIM_MARGIN_SECS);
        match store.claim(&id, expires_at).await {
            Ok(Claim::Claimed) => Ok(Some((store.clone(), id))),
            Ok(_) => Err(tool.required_result(Reason::T402PaymentReplayed.as_str())),
            Err(err) => {
                tracing::error!(error = %err, "the settlement store cannot be reached");
                Err(tool.required_result(Reason::T402SettlementStoreUnavailable.as_str()))
            }
        }
    }

    /// Prices a tool.
    #[must_use]
    pub fn tool(mut self, tool: PaidTool) -> Self {
        Arc::make_mut(&mut self.tools).insert(tool.name.clone(), tool);
        self
    }

    /// The wrapped server.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    async fn call_paid(
        &self,
        tool: &PaidTool,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let answer = |result: CallToolResult| Ok(CallToolResponse::Complete(result));
        let Some(raw) = codec::read_payment(&request, &context.meta) else {
            return answer(tool.required_result("Payment required to access this resource"));
        };
        let facilitator_request = match tool.facilitator_request(raw) {
            Ok(facilitator_request) => facilitator_request,
            Err(refusal) => return answer(tool.required_result(&refusal)),
        };
        // The tool takes the request; the hooks keep its arguments.
        let arguments = request.arguments.clone();
        let call = PaidCall {
            tool: &tool.name,
            arguments: arguments.as_ref(),
            payment: &facilitator_request,
        };
        let claimed = match self.claim(tool, &facilitator_request).await {
            Ok(claimed) => claimed,
            Err(refused) => return answer(refused),
        };
        // Nothing was charged: the payer may present the payment again.
        let release = |claimed: Option<(Arc<dyn SettlementStore>, PaymentId)>| async move {
            if let Some((store, id)) = claimed
                && let Err(err) = store.release(&id).await
            {
                tracing::warn!(error = %err, payment = %id, "a claim could not be released");
            }
        };
        match self.facilitator.verify(&facilitator_request).await {
            Ok(verified) if verified.is_valid => {}
            Ok(refused) => {
                release(claimed).await;
                let reason = refused
                    .invalid_reason
                    .map_or_else(|| "invalid_payment".to_owned(), |r| r.as_str().to_owned());
                return answer(tool.required_result(&reason));
            }
            Err(err) => {
                release(claimed).await;
                tracing::error!(error = %err, tool = tool.name, "verification could not be done");
                return answer(tool.required_result(err.reason().as_str()));
            }
        }
        if !self.hooks.before_execution(&call).await {
            release(claimed).await;
            return answer(tool.required_result("Execution blocked by hook"));
        }
        let output = match self.inner.call_tool(request, context).await {
            Ok(output) => output,
            Err(err) => {
                release(claimed).await;
                return Err(err);
            }
        };
        let CallToolResponse::Complete(mut result) = output else {
            // Not a complete result (an input request or a task): nothing to settle yet.
            release(claimed).await;
            return Ok(output);
        };
        self.hooks.after_execution(&call, &result).await;
        if result.is_error == Some(true) {
            // The tool failed: nothing is charged.
            release(claimed).await;
            return answer(result);
        }
        match self.facilitator.settle(&facilitator_request).await {
            Ok(settled) if settled.success => {
                self.hooks.after_settlement(&call, &settled).await;
                codec::attach_settlement(&mut result, &settled);
                answer(result)
            }
            Ok(failed) => answer(settlement_failed(tool, &failed)),
            Err(err) => {
                tracing::error!(error = %err, tool = tool.name, "settlement could not be done");
                let network = network_of(&facilitator_request);
                let failed = SettleResponse::failure(err.reason(), network, None);
                answer(settlement_failed(tool, &failed))
            }
        }
    }
}

/// The network a request names (the v1 name for a v1 request).
fn network_of(request: &FacilitatorRequest) -> String {
    match request {
        FacilitatorRequest::V2(v2) => v2.payment_requirements.network.to_string(),
        FacilitatorRequest::V1(v1) => v1.payment_requirements.network.clone(),
        _ => String::new(),
    }
}

fn settlement_failed(tool: &PaidTool, failed: &SettleResponse) -> CallToolResult {
    let reason = failed
        .error_reason
        .as_ref()
        .map_or("settlement failed", Reason::as_str);
    let required = tool.payment_required(&format!("Payment settlement failed: {reason}"));
    codec::settlement_failed_result(&required, failed)
}

/// Calls the same method of the wrapped handler.
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {$(
        fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = $out> + MaybeSendFuture + '_ {
            self.inner.$name($($arg),*)
        }
    )*};
}

type Context = RequestContext<RoleServer>;
type Answer<T> = Result<T, McpError>;

// The legacy methods (logging level, resource subscriptions) are delegated too: a wrapped
// handler that still answers them keeps doing so.
#[allow(deprecated)]
impl<S: ServerHandler> ServerHandler for PaidTools<S> {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: Context,
    ) -> Answer<CallToolResponse> {
        match self.tools.get(request.name.as_ref()) {
            Some(tool) => self.call_paid(tool, request, context).await,
            None => self.inner.call_tool(request, context).await,
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: Context,
    ) -> Answer<ListToolsResult> {
        let mut listed = self.inner.list_tools(request, context).await?;
        for tool in &mut listed.tools {
            self.strip_output_schema(tool);
        }
        Ok(listed)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let mut tool = self.inner.get_tool(name)?;
        self.strip_output_schema(&mut tool);
        Some(tool)
    }

    fn negotiate_initialize(&self, request: &InitializeRequestParams) -> Answer<InitializeResult> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }

    delegate! {
        fn ping(&self, context: Context) -> Answer<()>;
        fn initialize(&self, request: InitializeRequestParams, context: Context) -> Answer<InitializeResult>;
        fn discover(&self, context: Context) -> Answer<DiscoverResult>;
        fn complete(&self, request: CompleteRequestParams, context: Context) -> Answer<CompleteResult>;
        fn set_level(&self, request: SetLevelRequestParams, context: Context) -> Answer<()>;
        fn get_prompt(&self, request: GetPromptRequestParams, context: Context) -> Answer<GetPromptResponse>;
        fn list_prompts(&self, request: Option<PaginatedRequestParams>, context: Context) -> Answer<ListPromptsResult>;
        fn list_resources(&self, request: Option<PaginatedRequestParams>, context: Context) -> Answer<ListResourcesResult>;
        fn list_resource_templates(&self, request: Option<PaginatedRequestParams>, context: Context) -> Answer<ListResourceTemplatesResult>;
        fn read_resource(&self, request: ReadResourceRequestParams, context: Context) -> Answer<ReadResourceResponse>;
        fn listen(&self, context: SubscriptionContext) -> Answer<()>;
        fn subscribe(&self, request: SubscribeRequestParams, context: Context) -> Answer<()>;
        fn unsubscribe(&self, request: UnsubscribeRequestParams, context: Context) -> Answer<()>;
        fn on_custom_request(&self, request: CustomRequest, context: Context) -> Answer<CustomResult>;
        fn on_cancelled(&self, notification: CancelledNotificationParam, context: NotificationContext<RoleServer>) -> ();
        fn on_progress(&self, notification: ProgressNotificationParam, context: NotificationContext<RoleServer>) -> ();
        fn on_initialized(&self, context: NotificationContext<RoleServer>) -> ();
        fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) -> ();
        fn on_custom_notification(&self, notification: CustomNotification, context: NotificationContext<RoleServer>) -> ();
        fn get_task(&self, request: GetTaskParams, context: Context) -> Answer<GetTaskResult>;
        fn update_task(&self, request: UpdateTaskParams, context: Context) -> Answer<()>;
        fn cancel_task(&self, request: CancelTaskParams, context: Context) -> Answer<()>;
        fn list_skills(&self, request: Option<PaginatedRequestParams>, context: Context) -> Answer<ListSkillsResult>;
        fn get_skill(&self, request: GetSkillRequestParams, context: Context) -> Answer<GetSkillResult>;
        fn read_resource_directory(&self, request: ReadResourceDirectoryRequestParams, context: Context) -> Answer<ReadResourceDirectoryResult>;
    }
}

impl<S> PaidTools<S> {
    /// Paid tools are listed without an `outputSchema`.
    fn strip_output_schema(&self, tool: &mut Tool) {
        if self.tools.contains_key(tool.name.as_ref()) {
            tool.output_schema = None;
        }
    }
}
