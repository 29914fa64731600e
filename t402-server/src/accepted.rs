//! Which of a route's requirements a payment's `accepted` names.

use serde_json::Value;
use t402_core::PaymentRequirements;

/// The route requirement a payment's `accepted` names: equal scheme, network, amount, asset
/// (case-insensitive for hex addresses) and payee, and an `extra` that does not contradict the
/// route's (absent or empty is accepted; fields present on both must be equal).
pub(crate) fn find_accepted<'a>(
    route: &'a [PaymentRequirements],
    accepted: &PaymentRequirements,
) -> Option<&'a PaymentRequirements> {
    route.iter().find(|candidate| matches(candidate, accepted))
}

fn matches(ours: &PaymentRequirements, theirs: &PaymentRequirements) -> bool {
    ours.scheme == theirs.scheme
        && ours.network == theirs.network
        && ours.amount == theirs.amount
        && same_address(&ours.asset, &theirs.asset)
        && same_address(&ours.pay_to, &theirs.pay_to)
        && compatible_extra(ours.extra.as_ref(), theirs.extra.as_ref())
}

/// Hex addresses compare without case (checksums); anything else (Solana base58) exactly.
fn same_address(a: &str, b: &str) -> bool {
    if a.starts_with("0x") && b.starts_with("0x") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn compatible_extra(ours: Option<&Value>, theirs: Option<&Value>) -> bool {
    let Some(Value::Object(theirs)) = theirs else {
        // Absent, null or not an object: nothing to contradict ours.
        return true;
    };
    let Some(Value::Object(ours)) = ours else {
        return true;
    };
    theirs
        .iter()
        .all(|(key, value)| ours.get(key).is_none_or(|mine| mine == value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn requirements(extra: Value) -> PaymentRequirements {
        let mut value = json!({
            "scheme": "exact", "network": "eip155:84532", "amount": "10000",
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        });
        if !extra.is_null() {
            value["extra"] = extra;
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn accepted_matches_on_the_five_fields_and_tolerates_extra() {
        let ours = vec![requirements(json!({"name": "USDC", "version": "2"}))];
        assert!(find_accepted(&ours, &requirements(Value::Null)).is_some());
        assert!(find_accepted(&ours, &requirements(json!({}))).is_some());
        assert!(find_accepted(&ours, &requirements(json!({"name": "USDC"}))).is_some());
        assert!(find_accepted(&ours, &requirements(json!({"name": "Other"}))).is_none());

        let mut lower = requirements(Value::Null);
        lower.pay_to = lower.pay_to.to_lowercase();
        lower.asset = lower.asset.to_lowercase();
        assert!(find_accepted(&ours, &lower).is_some());

        let mut timeout = requirements(Value::Null);
        timeout.max_timeout_seconds = 5;
        assert!(
            find_accepted(&ours, &timeout).is_some(),
            "timeout is the server's business"
        );

        for change in [
            |r: &mut PaymentRequirements| r.amount = 1u64.into(),
            |r: &mut PaymentRequirements| r.scheme = "upto".into(),
            |r: &mut PaymentRequirements| r.network = "eip155:8453".parse().unwrap(),
            |r: &mut PaymentRequirements| {
                r.pay_to = "0x0000000000000000000000000000000000000001".into()
            },
            |r: &mut PaymentRequirements| {
                r.asset = "0x0000000000000000000000000000000000000002".into()
            },
        ] {
            let mut other = requirements(Value::Null);
            change(&mut other);
            assert!(find_accepted(&ours, &other).is_none(), "{other:?}");
        }
    }
}
