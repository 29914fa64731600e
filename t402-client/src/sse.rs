//! The receipt of a metered stream: a server-sent-events body ends with
//! `event: payment-response` whose `data` is the settlement (what the t402 server's metered
//! routes send when the stream ends).

use crate::Receipt;

/// The event name of a metered stream's receipt.
pub const RECEIPT_EVENT: &str = "payment-response";

/// The settlement carried by the last `event: payment-response` of a server-sent-events body.
///
/// ```
/// let body = b"data: hello\n\nevent: payment-response\ndata: {\"success\":true,\"transaction\":\"0x01\",\"network\":\"eip155:8453\",\"amount\":\"7\"}\n\n";
/// let receipt = t402_client::sse::receipt_event(body).unwrap();
/// assert!(receipt.success);
/// assert_eq!(receipt.amount.unwrap().to_string(), "7");
/// ```
pub fn receipt_event(body: &[u8]) -> Option<Receipt> {
    let text = std::str::from_utf8(body).ok()?;
    let mut receipt = None;
    for event in text.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in event.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = Some(value.trim());
            } else if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if name == Some(RECEIPT_EVENT)
            && let Ok(parsed) = serde_json::from_str::<Receipt>(&data)
        {
            receipt = Some(parsed);
        }
    }
    receipt
}
