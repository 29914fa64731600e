//! Which of a route's requirements a payment's `accepted` names.

use serde_json::Value;
use t402_core::PaymentRequirements;

/// The route requirement a payment's `accepted` names, matched as strictly as the reference
/// servers match it: equal scheme, network, amount and `maxTimeoutSeconds`, the same asset and
/// payee (hex addresses without regard to case, anything else exactly), and an `extra` holding
/// every field the offer's `extra` has, with the same value. Fields the offer does not have are
/// the client's business; an absent `extra` is fine only when the offer has none.
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
        && ours.max_timeout_seconds == theirs.max_timeout_seconds
        && same_address(&ours.asset, &theirs.asset)
        && same_address(&ours.pay_to, &theirs.pay_to)
        && covers_extra(ours.extra.as_ref(), theirs.extra.as_ref())
}

/// Hex addresses compare without case (checksums); anything else (Solana base58) exactly.
fn same_address(a: &str, b: &str) -> bool {
    if a.starts_with("0x") && b.starts_with("0x") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Whether `theirs` carries every field of `ours` with the same value.
fn covers_extra(ours: Option<&Value>, theirs: Option<&Value>) -> bool {
    let offered = match ours {
        Some(Value::Object(offered)) if !offered.is_empty() => offered,
        // The offer has no extra: nothing to carry.
        _ => return true,
    };
    let Some(Value::Object(theirs)) = theirs else {
        return false;
    };
    offered
        .iter()
        .all(|(key, value)| theirs.get(key) == Some(value))
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
    fn accepted_matches_every_offered_field() {
        let offered = json!({"name": "USDC", "version": "2"});
        let ours = vec![requirements(offered.clone())];
        assert!(find_accepted(&ours, &requirements(offered.clone())).is_some());
        assert!(
            find_accepted(
                &ours,
                &requirements(json!({"name": "USDC", "version": "2", "x": 1}))
            )
            .is_some(),
            "fields the offer lacks are the client's"
        );
        for dropped in [
            Value::Null,
            json!({}),
            json!({"name": "USDC"}),
            json!({"name": "Other", "version": "2"}),
        ] {
            assert!(
                find_accepted(&ours, &requirements(dropped.clone())).is_none(),
                "{dropped}"
            );
        }
        let bare = vec![requirements(Value::Null)];
        assert!(find_accepted(&bare, &requirements(Value::Null)).is_some());
        assert!(find_accepted(&bare, &requirements(json!({"a": 1}))).is_some());

        let mut lower = requirements(offered.clone());
        lower.pay_to = lower.pay_to.to_lowercase();
        lower.asset = lower.asset.to_lowercase();
        assert!(find_accepted(&ours, &lower).is_some());

        for seconds in [5, 61, 86_400] {
            let mut timeout = requirements(offered.clone());
            timeout.max_timeout_seconds = seconds;
            assert!(find_accepted(&ours, &timeout).is_none(), "{seconds}");
        }

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
            let mut other = requirements(json!({"name": "USDC", "version": "2"}));
            change(&mut other);
            assert!(find_accepted(&ours, &other).is_none(), "{other:?}");
        }
    }
}
