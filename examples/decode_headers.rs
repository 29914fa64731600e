//! Decodes x402 payment headers and prints what they say.
//!
//! ```text
//! cargo run --example decode_headers                # the protocol's example headers
//! cargo run --example decode_headers -- <base64>    # a header of your own
//! ```
//!
//! Each value is tried as every header kind; the first that decodes is shown with its offers in
//! token units.

use t402_core::codec::{Codec, CodecError};
use t402_core::{PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse, asset};

/// The `PAYMENT-REQUIRED` example of the x402 v2 HTTP transport spec.
const SPEC_PAYMENT_REQUIRED: &str = "eyJ4NDAyVmVyc2lvbiI6MiwiZXJyb3IiOiJQQVlNRU5ULVNJR05BVFVSRSBoZWFkZXIgaXMgcmVxdWlyZWQiLCJyZXNvdXJjZSI6eyJ1cmwiOiJodHRwczovL2FwaS5leGFtcGxlLmNvbS9wcmVtaXVtLWRhdGEiLCJkZXNjcmlwdGlvbiI6IkFjY2VzcyB0byBwcmVtaXVtIG1hcmtldCBkYXRhIiwibWltZVR5cGUiOiJhcHBsaWNhdGlvbi9qc29uIn0sImFjY2VwdHMiOlt7InNjaGVtZSI6ImV4YWN0IiwibmV0d29yayI6ImVpcDE1NTo4NDUzMiIsImFtb3VudCI6IjEwMDAwIiwiYXNzZXQiOiIweDAzNkNiRDUzODQyYzU0MjY2MzRlNzkyOTU0MWVDMjMxOGYzZENGN2UiLCJwYXlUbyI6IjB4MjA5NjkzQmM2YWZjMEM1MzI4YkEzNkZhRjAzQzUxNEVGMzEyMjg3QyIsIm1heFRpbWVvdXRTZWNvbmRzIjo2MCwiZXh0cmEiOnsibmFtZSI6IlVTREMiLCJ2ZXJzaW9uIjoiMiJ9fV19";

/// The `PAYMENT-RESPONSE` success example of the same spec.
const SPEC_PAYMENT_RESPONSE: &str = "eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWYxMjM0NTY3ODkwYWJjZGVmMTIzNDU2Nzg5MGFiY2RlZiIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MzIiLCJwYXllciI6IjB4ODU3YjA2NTE5RTkxZTNBNTQ1Mzg3OTFiRGJiMEUyMjM3M2UzNmI2NiJ9";

fn describe_offer(offer: &PaymentRequirements) -> String {
    let amount = match asset::known_decimals(&offer.network, &offer.asset) {
        Some(decimals) => format!("{} (token units)", offer.amount.format_units(decimals)),
        None => format!("{} (atomic units)", offer.amount),
    };
    format!(
        "{} on {}: {amount} of {} to {}",
        offer.scheme, offer.network, offer.asset, offer.pay_to
    )
}

fn show(value: &str) -> Result<(), CodecError> {
    let codec = Codec::default();
    if let Ok(required) = codec.decode_payment_required(value) {
        return print_kind("PAYMENT-REQUIRED", &required, |r: &PaymentRequired| {
            r.accepts.iter().map(describe_offer).collect()
        });
    }
    if let Ok(payment) = codec.decode_payment_signature(value) {
        return print_kind("PAYMENT-SIGNATURE", &payment, |p: &PaymentPayload| {
            vec![describe_offer(&p.accepted)]
        });
    }
    if let Ok(response) = codec.decode_payment_response(value) {
        return print_kind("PAYMENT-RESPONSE", &response, |r: &SettleResponse| {
            vec![format!(
                "success: {}, transaction: {:?}",
                r.success, r.transaction
            )]
        });
    }
    // Report why it is not a payment requirement, the most common thing to paste.
    codec.decode_payment_required(value).map(|_| ())
}

fn print_kind<T: serde::Serialize>(
    kind: &str,
    value: &T,
    summary: impl Fn(&T) -> Vec<String>,
) -> Result<(), CodecError> {
    println!("== {kind}");
    for line in summary(value) {
        println!("   {line}");
    }
    println!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("decoded values serialize")
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let values: Vec<&str> = if args.is_empty() {
        vec![SPEC_PAYMENT_REQUIRED, SPEC_PAYMENT_RESPONSE]
    } else {
        args.iter().map(String::as_str).collect()
    };
    for value in values {
        if let Err(err) = show(value) {
            eprintln!(
                "error: {err} [{}]",
                err.reason()
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            );
            std::process::exit(1);
        }
    }
}
