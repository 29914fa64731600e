//! The x402 MCP transport (x402 `specs/transports-v2/mcp.md`): a payment-required tool result
//! (`isError: true`, the `PaymentRequired` in `structuredContent` and the same JSON as
//! `content[0].text`), the payment in `params._meta["x402/payment"]`, the settlement in
//! `result._meta["x402/payment-response"]`.

use rmcp::model::{CallToolRequestParams, CallToolResult, MetaObject, RequestMetaObject};
use serde_json::{Value, json};
use t402_core::SettleResponse;

/// The request `_meta` key carrying the payment.
pub const PAYMENT_META_KEY: &str = "x402/payment";

/// The result `_meta` key (and `structuredContent` key after a failed settlement) carrying the
/// settlement.
pub const PAYMENT_RESPONSE_META_KEY: &str = "x402/payment-response";

/// The wrapper key some servers use in `content[0].text` (`{"x402/error": {code, message, data}}`).
pub const ERROR_WRAPPER_KEY: &str = "x402/error";

/// The code SDK helpers use for payment required (read, never sent as a JSON-RPC error).
pub const PAYMENT_REQUIRED_CODE: i64 = 402;

/// The payment-required tool result for `required` (v2 or v1, as JSON).
pub fn payment_required_result(required: &Value) -> CallToolResult {
    CallToolResult::structured_error(required.clone())
}

/// The payment-required result after a failed settlement: the challenge with the settlement
/// under `x402/payment-response`, and the tool's output withheld.
pub fn settlement_failed_result(required: &Value, settled: &SettleResponse) -> CallToolResult {
    let mut value = required.clone();
    if let Value::Object(object) = &mut value {
        object.insert(
            PAYMENT_RESPONSE_META_KEY.into(),
            serde_json::to_value(settled).expect("a settlement serializes"),
        );
    }
    payment_required_result(&value)
}

/// Whether `value` looks like a `PaymentRequired` (v2 or v1): a version and offers.
fn is_payment_required(value: &Value) -> bool {
    let versioned = value.get("x402Version").is_some() || value.get("t402Version").is_some();
    versioned && value.get("accepts").is_some_and(Value::is_array)
}

/// The `data` of an `x402/error` wrapper, when it holds a `PaymentRequired`.
fn unwrap_error(value: &Value) -> Option<&Value> {
    value
        .get(ERROR_WRAPPER_KEY)
        .and_then(|wrapper| wrapper.get("data"))
        .filter(|data| is_payment_required(data))
}

/// The `PaymentRequired` JSON of a tool result, read in the spec's order: `structuredContent`,
/// its `x402/error` wrapper, then `content[0].text` (direct or wrapped). `None` when the result
/// is not an error or carries none.
pub fn read_payment_required(result: &CallToolResult) -> Option<Value> {
    if result.is_error != Some(true) {
        return None;
    }
    if let Some(structured) = &result.structured_content {
        if is_payment_required(structured) {
            return Some(structured.clone());
        }
        if let Some(data) = unwrap_error(structured) {
            return Some(data.clone());
        }
    }
    let text = result.content.first()?.as_text()?.text.as_str();
    let parsed: Value = serde_json::from_str(text).ok()?;
    if is_payment_required(&parsed) {
        return Some(parsed);
    }
    unwrap_error(&parsed).cloned()
}

/// Puts `payment` (a `PaymentPayload` as JSON) in the call's `_meta`.
pub fn attach_payment(params: &mut CallToolRequestParams, payment: Value) {
    let meta = params
        .meta
        .get_or_insert_with(|| RequestMetaObject(MetaObject(Default::default())));
    meta.0.0.insert(PAYMENT_META_KEY.into(), payment);
}

/// The payment in a call's `_meta`, if any: where rmcp puts a received request's `_meta` (the
/// request context's `meta`), else the parameters' own.
pub fn read_payment<'a>(
    params: &'a CallToolRequestParams,
    context_meta: &'a RequestMetaObject,
) -> Option<&'a Value> {
    context_meta
        .0
        .0
        .get(PAYMENT_META_KEY)
        .or_else(|| params.meta.as_ref()?.0.0.get(PAYMENT_META_KEY))
}

/// Puts the settlement in the result's `_meta`.
pub fn attach_settlement(result: &mut CallToolResult, settled: &SettleResponse) {
    let meta = result
        .meta
        .get_or_insert_with(|| MetaObject(Default::default()));
    meta.0.insert(
        PAYMENT_RESPONSE_META_KEY.into(),
        serde_json::to_value(settled).expect("a settlement serializes"),
    );
}

/// The settlement of a result: its `_meta`, else (a failed settlement) its `structuredContent`.
pub fn read_settlement(result: &CallToolResult) -> Option<SettleResponse> {
    let from_meta = result
        .meta
        .as_ref()
        .and_then(|meta| meta.0.get(PAYMENT_RESPONSE_META_KEY));
    let from_structured = result
        .structured_content
        .as_ref()
        .and_then(|value| value.get(PAYMENT_RESPONSE_META_KEY));
    serde_json::from_value(from_meta.or(from_structured)?.clone()).ok()
}

/// The `x402/error` wrapper a server may put in `content[0].text`.
pub fn error_wrapper(message: &str, required: &Value) -> Value {
    json!({ ERROR_WRAPPER_KEY: { "code": PAYMENT_REQUIRED_CODE, "message": message, "data": required } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn required() -> Value {
        json!({
            "x402Version": 2,
            "error": "Payment required to access this resource",
            "resource": {"url": "mcp://tool/financial_analysis", "description": "Advanced financial analysis tool", "mimeType": "application/json"},
            "accepts": [{"scheme": "exact", "network": "eip155:84532", "amount": "10000",
                "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
                "extra": {"name": "USDC", "version": "2"}}]
        })
    }

    #[test]
    fn the_spec_example_reads_from_every_place_it_may_be() {
        let required = required();
        // Structured content, as we write it (and the same JSON as text).
        let result = payment_required_result(&required);
        assert_eq!(read_payment_required(&result), Some(required.clone()));
        let text = &result.content[0].as_text().unwrap().text;
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), required);
        // Text only, direct.
        let text_only = CallToolResult::error(vec![ContentBlock::text(required.to_string())]);
        assert_eq!(read_payment_required(&text_only), Some(required.clone()));
        // Text only, in the x402/error wrapper (the spec's content[0].text form).
        let wrapped = CallToolResult::error(vec![ContentBlock::text(
            error_wrapper("Payment required", &required).to_string(),
        )]);
        assert_eq!(read_payment_required(&wrapped), Some(required.clone()));
        // Structured wrapper.
        let structured_wrapper = CallToolResult::structured_error(error_wrapper("x", &required));
        assert_eq!(
            read_payment_required(&structured_wrapper),
            Some(required.clone())
        );
        // Not an error, or an ordinary error: no challenge.
        let ok = CallToolResult::structured(required.clone());
        assert_eq!(read_payment_required(&ok), None);
        let plain = CallToolResult::error(vec![ContentBlock::text("boom")]);
        assert_eq!(read_payment_required(&plain), None);
    }

    #[test]
    fn payment_and_settlement_travel_in_meta() {
        let mut params = CallToolRequestParams::new("financial_analysis");
        attach_payment(&mut params, json!({"x402Version": 2}));
        let wire = serde_json::to_value(&params).unwrap();
        assert_eq!(wire["_meta"][PAYMENT_META_KEY]["x402Version"], 2);
        let settled: SettleResponse = serde_json::from_value(json!({
            "success": true, "transaction": "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
            "network": "eip155:84532", "payer": "0x857b06519E91e3A54538791bDbb0E22373e36b66"
        }))
        .unwrap();
        let mut result = CallToolResult::success(vec![ContentBlock::text("ok")]);
        attach_settlement(&mut result, &settled);
        let wire = serde_json::to_value(&result).unwrap();
        assert_eq!(wire["_meta"][PAYMENT_RESPONSE_META_KEY]["success"], true);
        assert_eq!(read_settlement(&result), Some(settled));
    }
}
