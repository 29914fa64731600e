//! Paid tools: a wrapper around an rmcp server whose priced tools answer a payment-required
//! result until paid, then verify, run, and settle — in the reference's order — leaving the
//! tools' own code unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{CallToolRequest, CallToolResult, ClientRequest, ServerResult};
use rmcp::service::{NotificationContext, RequestContext, Service};
use rmcp::{ErrorData as McpError, RoleServer};
use t402_core::{
    Claim, Facilitator, FacilitatorRequest, Network, PaymentId, PaymentPayload, PaymentRequired,
    PaymentRequirements, Price, PriceError, Reason, ResourceInfo, ServerMechanism, SettleResponse,
    SettlementStore, VerifyRequest,
};

use crate::codec;

/// A priced tool: what it accepts and how it is named to payers.
#[derive(Debug, Clone)]
pub struct PaidTool {
    name: String,
    accepts: Vec<PaymentRequirements>,
    resource: ResourceInfo,
}

impl PaidTool {
    /// Tool `name` accepting any of `accepts`; its resource is `mcp://tool/<name>`.
    pub fn new(name: impl Into<String>, accepts: Vec<PaymentRequirements>) -> Self {
        let name = name.into();
        Self {
            resource: ResourceInfo::new(format!("mcp://tool/{name}")),
            name,
            accepts,
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

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the tool accepts.
    pub fn accepts(&self) -> &[PaymentRequirements] {
        &self.accepts
    }

    /// The challenge, with `error` as its text.
    fn payment_required(&self, error: &str) -> PaymentRequired {
        PaymentRequired::new(self.resource.clone(), self.accepts.clone()).with_error(error)
    }

    fn required_result(&self, error: &str) -> CallToolResult {
        let required = serde_json::to_value(self.payment_required(error)).expect("serializes");
        codec::payment_required_result(&required)
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

/// An rmcp server whose priced tools must be paid (x402 MCP transport). Everything else passes
/// through to the wrapped server unchanged; paid tools are listed without an `outputSchema`
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

impl<S: Service<RoleServer>> PaidTools<S> {
    /// Wraps `inner`, verifying and settling through `facilitator`.
    pub fn new(inner: S, facilitator: Arc<dyn Facilitator>) -> Self {
        Self {
            inner,
            tools: Arc::new(HashMap::new()),
            facilitator,
            store: None,
            mechanisms: Vec::new(),
        }
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
        let FacilitatorRequest::V2(verify) = request else {
            return Ok(None);
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
        request: CallToolRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        let answer = |result: CallToolResult| Ok(ServerResult::CallToolResult(result));
        let Some(raw) = codec::read_payment(&request, &context.meta) else {
            return answer(tool.required_result("Payment required to access this resource"));
        };
        let payment: PaymentPayload = match serde_json::from_value::<PaymentPayload>(raw.clone()) {
            Ok(payment) => payment,
            Err(err) => {
                return answer(tool.required_result(&format!(
                    "{}: the payment does not decode: {err}",
                    Reason::InvalidPayload
                )));
            }
        };
        let Some(requirements) = tool.matching(&payment).cloned() else {
            return answer(tool.required_result(Reason::NoMatchingRequirements.as_str()));
        };
        let facilitator_request =
            FacilitatorRequest::V2(VerifyRequest::new(payment, requirements.clone()));
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
        let output = match self
            .inner
            .handle_request(ClientRequest::CallToolRequest(request), context)
            .await
        {
            Ok(output) => output,
            Err(err) => {
                release(claimed).await;
                return Err(err);
            }
        };
        let ServerResult::CallToolResult(mut result) = output else {
            // Not a complete result (an input request or a task): nothing to settle yet.
            release(claimed).await;
            return Ok(output);
        };
        if result.is_error == Some(true) {
            // The tool failed: nothing is charged.
            release(claimed).await;
            return answer(result);
        }
        match self.facilitator.settle(&facilitator_request).await {
            Ok(settled) if settled.success => {
                codec::attach_settlement(&mut result, &settled);
                answer(result)
            }
            Ok(failed) => answer(settlement_failed(tool, &failed)),
            Err(err) => {
                tracing::error!(error = %err, tool = tool.name, "settlement could not be done");
                let failed =
                    SettleResponse::failure(err.reason(), requirements.network.as_str(), None);
                answer(settlement_failed(tool, &failed))
            }
        }
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

impl<S: Service<RoleServer>> Service<RoleServer> for PaidTools<S> {
    async fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        match request {
            ClientRequest::CallToolRequest(call) => match self.tools.get(call.params.name.as_ref())
            {
                Some(tool) => self.call_paid(tool, call, context).await,
                None => {
                    self.inner
                        .handle_request(ClientRequest::CallToolRequest(call), context)
                        .await
                }
            },
            ClientRequest::ListToolsRequest(list) => {
                let listed = self
                    .inner
                    .handle_request(ClientRequest::ListToolsRequest(list), context)
                    .await?;
                Ok(match listed {
                    ServerResult::ListToolsResult(mut result) => {
                        for tool in &mut result.tools {
                            if self.tools.contains_key(tool.name.as_ref()) {
                                tool.output_schema = None;
                            }
                        }
                        ServerResult::ListToolsResult(result)
                    }
                    other => other,
                })
            }
            other => self.inner.handle_request(other, context).await,
        }
    }

    fn handle_notification(
        &self,
        notification: <RoleServer as rmcp::service::ServiceRole>::PeerNot,
        context: NotificationContext<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), McpError>> + Send + '_ {
        self.inner.handle_notification(notification, context)
    }

    fn get_info(&self) -> <RoleServer as rmcp::service::ServiceRole>::Info {
        self.inner.get_info()
    }

    fn supported_protocol_versions(
        &self,
    ) -> std::borrow::Cow<'static, [rmcp::model::ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }
}
