//! A custom paywall template filled with request-controlled values: placeholders inside values
//! are never filled, and each value is escaped for where it lands.

use t402_core::{PaymentRequired, ResourceInfo};
use t402_server::Paywall;

#[test]
fn placeholders_in_values_are_not_filled() {
    let required = PaymentRequired::new(
        ResourceInfo::new("https://api.example/{{payment_required_json}}?q=</script><b>"),
        vec![],
    );
    let page = Paywall::new()
        .template(
            "<a href=\"{{resource}}\">{{resource}}</a>\
             <script>const url = \"{{resource}}\"; const data = {{payment_required_json}};</script>\
             <p>{{unknown}}</p>",
        )
        .render(&required, &[]);
    // The URL's placeholder is shown as text, in the attribute and in the element.
    assert!(
        page.starts_with(
            "<a href=\"https://api.example/{{payment_required_json}}?q=&lt;/script&gt;&lt;b&gt;\">"
        ),
        "{page}"
    );
    // Inside the script: a JSON string, then the JSON, neither able to close the element.
    assert!(
        page.contains(
            r#"const url = "https://api.example/{{payment_required_json}}?q=\u003c/script\u003e\u003cb\u003e";"#
        ),
        "{page}"
    );
    assert_eq!(page.matches("</script>").count(), 1, "{page}");
    assert_eq!(page.matches("<script>").count(), 1, "{page}");
    assert!(page.contains("const data = {\"x402Version\""), "{page}");
    assert!(page.ends_with("<p>{{unknown}}</p>"), "{page}");
}
