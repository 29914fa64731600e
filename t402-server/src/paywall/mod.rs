//! The HTML page a browser gets instead of a bare 402: what is asked, in token units, with the
//! `PaymentRequired` JSON embedded for a wallet script to use.

use t402_core::PaymentRequired;

/// The default page. Placeholders: `{{title}}`, `{{logo}}`, `{{description}}`, `{{resource}}`,
/// `{{offers}}` (one list item per way to pay, a radio button each), `{{payment_required_json}}`,
/// `{{paywall_config_json}}` (the offers as shown and the explorers, for the script) and
/// `{{wallet_script}}` (the `<script>` element that pays from a browser wallet).
pub const DEFAULT_TEMPLATE: &str = include_str!("template.html");

/// The script that pays from a browser wallet (EIP-6963 discovery, `window.ethereum` as
/// fallback, `eth_signTypedData_v4` over the EIP-3009 authorization), inserted by
/// `{{wallet_script}}`. It reads the elements `#payment-required`, `#paywall-config`, `#offers`
/// (radio inputs named `offer`), `#pay`, `#wallet`, `#status`, `#result` and `#offers-section`.
pub const WALLET_SCRIPT: &str = include_str!("wallet.js");

/// Transaction explorers of well-known networks: the URL a transaction hash is appended to.
const DEFAULT_EXPLORERS: [(&str, &str); 4] = [
    ("eip155:1", "https://etherscan.io/tx/"),
    ("eip155:11155111", "https://sepolia.etherscan.io/tx/"),
    ("eip155:8453", "https://basescan.org/tx/"),
    ("eip155:84532", "https://sepolia.basescan.org/tx/"),
];

/// One way to pay, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferView {
    /// The amount in token units (`"0.01"`), or atomic units when the decimals are unknown.
    pub amount: String,
    /// The asset's symbol or address.
    pub asset: String,
    /// The network (`eip155:84532`).
    pub network: String,
    /// The payee.
    pub pay_to: String,
    /// The scheme.
    pub scheme: String,
    /// The asset's decimals, when known.
    pub decimals: Option<u8>,
    /// Whether the page's wallet script can pay this offer (scheme `exact` on an EVM chain over
    /// EIP-3009); other offers are shown for x402 clients.
    pub payable: bool,
}

/// How the paywall page looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paywall {
    title: String,
    logo_url: Option<String>,
    template: String,
    explorers: std::collections::BTreeMap<String, String>,
}

impl Default for Paywall {
    fn default() -> Self {
        Self {
            title: "Payment required".into(),
            logo_url: None,
            template: DEFAULT_TEMPLATE.into(),
            explorers: DEFAULT_EXPLORERS
                .iter()
                .map(|(network, url)| ((*network).to_owned(), (*url).to_owned()))
                .collect(),
        }
    }
}

impl Paywall {
    /// The default page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page title (the app's name).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Shows a logo.
    #[must_use]
    pub fn logo(mut self, url: impl Into<String>) -> Self {
        self.logo_url = Some(url.into());
        self
    }

    /// Links transactions on `network` (`eip155:84532`) to an explorer: the receipt shown after
    /// paying links to `url_prefix` followed by the transaction hash. Ethereum, Base and their
    /// Sepolia test networks have one by default.
    #[must_use]
    pub fn explorer(mut self, network: impl Into<String>, url_prefix: impl Into<String>) -> Self {
        self.explorers.insert(network.into(), url_prefix.into());
        self
    }

    /// Replaces the page template (see [`DEFAULT_TEMPLATE`] for the placeholders). Values are
    /// HTML-escaped; the JSON is escaped for a `<script>` element.
    #[must_use]
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// Renders the page for `required`, with `offers` as the reader should see them.
    pub fn render(&self, required: &PaymentRequired, offers: &[OfferView]) -> String {
        let logo = self
            .logo_url
            .as_ref()
            .map(|url| format!(r#"<img src="{}" alt="" height="48">"#, escape_html(url)))
            .unwrap_or_default();
        let first_payable = offers.iter().position(|offer| offer.payable);
        let items: String = offers
            .iter()
            .enumerate()
            .map(|(index, offer)| offer_item(index, offer, first_payable == Some(index)))
            .collect();
        let config = serde_json::json!({
            "offers": offers.iter().map(|offer| serde_json::json!({
                "amount": offer.amount,
                "asset": offer.asset,
                "decimals": offer.decimals,
                "network": offer.network,
                "payable": offer.payable,
            })).collect::<Vec<_>>(),
            "explorers": self.explorers,
        })
        .to_string();
        let script = format!("<script>\n{WALLET_SCRIPT}</script>");
        let json = serde_json::to_string(required).unwrap_or_default();
        let description = required.resource.description.clone().unwrap_or_default();
        render_template(&self.template, |name| match name {
            "title" => Some(Value::Text(&self.title)),
            "logo" => Some(Value::Markup(&logo)),
            "description" => Some(Value::Text(&description)),
            "resource" => Some(Value::Text(&required.resource.url)),
            "offers" => Some(Value::Markup(&items)),
            "payment_required_json" => Some(Value::Json(&json)),
            "paywall_config_json" => Some(Value::Json(&config)),
            "wallet_script" => Some(Value::Markup(&script)),
            _ => None,
        })
    }
}

/// One way to pay as a list item: a radio button (disabled when the page cannot pay it) with the
/// amount and the details.
fn offer_item(index: usize, offer: &OfferView, checked: bool) -> String {
    let state = match (offer.payable, checked) {
        (true, true) => " checked",
        (true, false) => "",
        (false, _) => " disabled",
    };
    let note = if offer.payable {
        ""
    } else {
        " · pay with an x402 client"
    };
    format!(
        "<li class=\"offer\"><label><input type=\"radio\" name=\"offer\" value=\"{index}\"{state}><span><span class=\"amount\">{} {}</span><span class=\"detail\">on {} · scheme {} · to {}{note}</span></span></label></li>\n",
        escape_html(&offer.amount),
        escape_html(&offer.asset),
        escape_html(&offer.network),
        escape_html(&offer.scheme),
        escape_html(&offer.pay_to),
    )
}

/// What a placeholder stands for.
enum Value<'a> {
    /// Text from the request or the configuration: escaped for where it lands.
    Text(&'a str),
    /// Markup the layer built with its parts already escaped.
    Markup(&'a str),
    /// A JSON document.
    Json(&'a str),
}

/// Fills `{{name}}` placeholders in one pass: a value is never searched for placeholders again,
/// so a request-controlled value (the resource URL) cannot bring one in. Each value is escaped for
/// the context it lands in: inside a `<script>` element, JSON with `<`, `>`, `&` and the line
/// separators escaped (text values as the contents of a JSON string); elsewhere, HTML-escaped
/// (safe in element content and in quoted attribute values). Unknown placeholders stay as
/// written.
fn render_template<'a>(template: &str, value_of: impl Fn(&str) -> Option<Value<'a>>) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else {
            break;
        };
        let name = &rest[start + 2..start + 2 + length];
        out.push_str(&rest[..start]);
        let in_script = inside_script(&out);
        match value_of(name.trim()) {
            Some(Value::Text(text)) if in_script => out.push_str(&script_string(text)),
            Some(Value::Text(text)) => out.push_str(&escape_html(text)),
            Some(Value::Markup(markup)) => out.push_str(markup),
            Some(Value::Json(json)) if in_script => out.push_str(&script_json(json)),
            Some(Value::Json(json)) => out.push_str(&escape_html(json)),
            None => out.push_str(&rest[start..start + 4 + length]),
        }
        rest = &rest[start + 4 + length..];
    }
    out.push_str(rest);
    out
}

/// Whether the end of `html` is inside a `<script>` element.
fn inside_script(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    match (lower.rfind("<script"), lower.rfind("</script")) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}

/// JSON made safe inside a `<script>` element: nothing in it can close the element or start
/// markup.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Text as the contents of a JSON (and JavaScript) string inside a `<script>` element.
fn script_string(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    let inner = &quoted[1..quoted.len() - 1];
    script_json(&inner.replace('\'', "\\u0027"))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the request comes from a browser: `Accept` names `text/html` and the user agent is a
/// browser's (`Mozilla`).
pub fn is_browser(accept: Option<&str>, user_agent: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/html"))
        && user_agent.is_some_and(|ua| ua.contains("Mozilla"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use t402_core::ResourceInfo;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let required = PaymentRequired::new(
            ResourceInfo::new("https://api.example/<script>").with_description("a \"report\""),
            vec![],
        );
        let offers = [OfferView {
            amount: "0.01".into(),
            asset: "USDC".into(),
            network: "eip155:84532".into(),
            pay_to: "0xabc".into(),
            scheme: "exact".into(),
            decimals: Some(6),
            payable: true,
        }];
        let page = Paywall::new()
            .title("Weather & Co")
            .render(&required, &offers);
        assert!(page.contains("<title>Weather &amp; Co</title>"));
        assert!(page.contains("0.01 USDC"));
        assert!(page.contains("eip155:84532"));
        assert!(page.contains("https://api.example/&lt;script&gt;"));
        assert!(!page.contains("/<script>\""), "the JSON is escaped too");
        assert!(page.contains("a &quot;report&quot;"));
    }

    #[test]
    fn offers_the_script_cannot_pay_are_disabled_and_explorers_reach_the_script() {
        let required = PaymentRequired::new(ResourceInfo::new("https://api.example/r"), vec![]);
        let offer = |network: &str, payable| OfferView {
            amount: "1".into(),
            asset: "USDC".into(),
            network: network.into(),
            pay_to: "payee".into(),
            scheme: "exact".into(),
            decimals: Some(6),
            payable,
        };
        let page = Paywall::new()
            .explorer("eip155:31337", "https://explorer.test/tx/")
            .render(
                &required,
                &[offer("solana:devnet", false), offer("eip155:31337", true)],
            );
        assert!(page.contains(r#"value="0" disabled>"#), "{page}");
        assert!(page.contains("pay with an x402 client"));
        assert!(
            page.contains(r#"value="1" checked>"#),
            "the first payable offer is chosen"
        );
        let start = page.find(r#"id="paywall-config">"#).unwrap() + r#"id="paywall-config">"#.len();
        let end = start + page[start..].find("</script>").unwrap();
        let config: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(
            config["explorers"]["eip155:31337"],
            "https://explorer.test/tx/"
        );
        assert_eq!(
            config["explorers"]["eip155:8453"],
            "https://basescan.org/tx/"
        );
        assert_eq!(config["offers"][1]["payable"], true);
        assert_eq!(config["offers"][1]["decimals"], 6);
        assert!(
            page.contains("eip6963:requestProvider"),
            "the wallet script is inlined"
        );
    }

    #[test]
    fn browsers_are_told_apart() {
        assert!(is_browser(
            Some("text/html,application/xhtml+xml"),
            Some("Mozilla/5.0")
        ));
        assert!(!is_browser(Some("application/json"), Some("Mozilla/5.0")));
        assert!(!is_browser(Some("text/html"), Some("curl/8.0")));
        assert!(!is_browser(None, None));
    }
}
