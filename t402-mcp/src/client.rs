//! The paying side: an rmcp client peer that pays a tool's payment-required result once, with
//! the same spending policy, budget and hooks as the HTTP client (`t402_client::Payer`).

use std::sync::Arc;

use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{Peer, ServiceError};
use serde_json::Value;
use t402_client::{Challenge, ClientError, Payer};
use t402_core::{PaymentRequirements, SettleResponse};

use crate::codec;

/// Why a paid tool call did not give the tool's output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpPayError {
    /// The MCP exchange failed.
    #[error("the MCP call failed: {0}")]
    Mcp(#[from] ServiceError),
    /// The tool asks for payment and paying automatically is off: the challenge (a
    /// `PaymentRequired` as JSON).
    #[error("the tool requires payment")]
    PaymentRequired(Box<Value>),
    /// The challenge could not be paid (no acceptable offer, the policy, the budget, a hook,
    /// the signer).
    #[error(transparent)]
    Payment(#[from] ClientError),
    /// The paid call was answered with payment required again: the payment was refused (the
    /// reason is the challenge's `error`). Never paid a second time.
    #[error("the payment was refused: {reason}")]
    Refused {
        /// The server's reason.
        reason: String,
        /// The challenge it answered with.
        challenge: Box<Value>,
    },
    /// The tool ran but settlement failed; its output was withheld.
    #[error("settlement failed: {}", .0.error_reason.as_ref().map_or("unknown", |r| r.as_str()))]
    SettlementFailed(Box<SettleResponse>),
}

/// A tool's output, with what was paid for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaidToolResult {
    /// The tool's result.
    pub result: CallToolResult,
    /// The settlement, when the call was paid.
    pub settlement: Option<SettleResponse>,
    /// The offer paid.
    pub paid: Option<PaymentRequirements>,
}

/// An MCP client that pays for tools (x402 MCP transport): calls the tool, and on a
/// payment-required result checks the spending policy, reserves the budget, lets the hooks
/// approve, signs, and calls once more with the payment in `_meta["x402/payment"]`.
pub struct PayingClient {
    peer: Peer<RoleClient>,
    payer: Arc<Payer>,
    autopay: bool,
}

impl std::fmt::Debug for PayingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayingClient")
            .field("autopay", &self.autopay)
            .finish_non_exhaustive()
    }
}

impl PayingClient {
    /// Pays through `payer` for tools of the server behind `peer`.
    pub fn new(peer: Peer<RoleClient>, payer: Payer) -> Self {
        Self {
            peer,
            payer: Arc::new(payer),
            autopay: true,
        }
    }

    /// Whether a payment-required result is paid (default) or returned as
    /// [`McpPayError::PaymentRequired`].
    #[must_use]
    pub fn autopay(mut self, autopay: bool) -> Self {
        self.autopay = autopay;
        self
    }

    /// The peer.
    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    /// Calls a tool, paying when it asks.
    pub async fn call_tool(
        &self,
        params: CallToolRequestParams,
    ) -> Result<PaidToolResult, McpPayError> {
        let first = self.peer.call_tool(params.clone()).await?;
        let Some(required) = codec::read_payment_required(&first) else {
            return Ok(PaidToolResult {
                result: first,
                settlement: None,
                paid: None,
            });
        };
        if !self.autopay {
            return Err(McpPayError::PaymentRequired(Box::new(required)));
        }
        let resource = required
            .get("resource")
            .and_then(|resource| resource.get("url"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("mcp://tool/{}", params.name), str::to_owned);
        let challenge = Challenge::from_json(required)?;
        let prepared = self.payer.prepare(&challenge, &resource, None).await?;
        let offer = prepared.offer.clone();
        let mut paid_params = params;
        codec::attach_payment(&mut paid_params, prepared.payment.to_json());
        let second = match self.peer.call_tool(paid_params).await {
            Ok(second) => second,
            Err(err) => {
                // The payment may have reached the server: it stays counted.
                self.payer.finish(prepared, None).await;
                return Err(err.into());
            }
        };
        let settlement = codec::read_settlement(&second);
        if let Some(again) = codec::read_payment_required(&second) {
            self.payer.finish(prepared, settlement.as_ref()).await;
            if let Some(failed) = settlement.filter(|settled| !settled.success) {
                return Err(McpPayError::SettlementFailed(Box::new(failed)));
            }
            let reason = again
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("payment refused")
                .to_owned();
            return Err(McpPayError::Refused {
                reason,
                challenge: Box::new(again),
            });
        }
        self.payer.finish(prepared, settlement.as_ref()).await;
        Ok(PaidToolResult {
            result: second,
            settlement,
            paid: Some(offer),
        })
    }
}
