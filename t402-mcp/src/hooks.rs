//! Hooks of a paid tool call, at the points the x402 reference's MCP payment wrapper has them:
//! before the tool runs (after verification; may stop it), after it ran, after settlement.

use rmcp::model::CallToolResult;
use serde_json::{Map, Value};
use t402_core::error::BoxFuture;
use t402_core::{FacilitatorRequest, SettleResponse};

/// What hooks are told of a paid call.
#[derive(Debug)]
#[non_exhaustive]
pub struct PaidCall<'a> {
    /// The tool's name.
    pub tool: &'a str,
    /// The call's arguments.
    pub arguments: Option<&'a Map<String, Value>>,
    /// The verified payment with the offer it pays (v2, or v1 for a v1 payment).
    pub payment: &'a FacilitatorRequest,
}

/// Hooks of paid tool calls ([`PaidTools::hooks`](crate::PaidTools::hooks)). Every method has a
/// default that does nothing (or lets the call run).
pub trait PaidToolHooks: Send + Sync {
    /// After the payment is verified, before the tool runs. `false` stops the call: the tool
    /// does not run, nothing is settled, the payment's claim is given back, and the payer gets
    /// the payment-required result with "Execution blocked by hook".
    fn before_execution<'a>(&'a self, call: &'a PaidCall<'a>) -> BoxFuture<'a, bool> {
        let _ = call;
        Box::pin(async { true })
    }

    /// After the tool ran, before settlement (also when the tool answered an error, which is
    /// then not settled).
    fn after_execution<'a>(
        &'a self,
        call: &'a PaidCall<'a>,
        result: &'a CallToolResult,
    ) -> BoxFuture<'a, ()> {
        let _ = (call, result);
        Box::pin(async {})
    }

    /// After a successful settlement, before the result is returned.
    fn after_settlement<'a>(
        &'a self,
        call: &'a PaidCall<'a>,
        settled: &'a SettleResponse,
    ) -> BoxFuture<'a, ()> {
        let _ = (call, settled);
        Box::pin(async {})
    }
}

/// No hooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl PaidToolHooks for NoHooks {}
