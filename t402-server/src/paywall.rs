//! The HTML page a browser gets instead of a bare 402: what is asked, in token units, with the
//! `PaymentRequired` JSON embedded for a wallet script to use.

use t402_core::PaymentRequired;

/// The default page. Placeholders: `{{title}}`, `{{logo}}`, `{{description}}`, `{{resource}}`,
/// `{{offers}}` (one list item per way to pay), `{{payment_required_json}}`.
pub const DEFAULT_TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d1d1f; }
.offer { border: 1px solid #d0d0d7; border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 0.5rem 0; list-style: none; }
.amount { font-size: 1.4rem; font-weight: 600; }
.detail { color: #55555f; font-size: 0.9rem; word-break: break-all; }
</style>
</head>
<body>
{{logo}}
<h1>{{title}}</h1>
<p>{{description}}</p>
<p class="detail">Resource: {{resource}}</p>
<ul id="offers">
{{offers}}
</ul>
<p class="detail">Pay with an x402 client, which reads the <code>PAYMENT-REQUIRED</code> header of this response.</p>
<script type="application/json" id="payment-required">{{payment_required_json}}</script>
</body>
</html>
"#;

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
}

/// How the paywall page looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paywall {
    title: String,
    logo_url: Option<String>,
    template: String,
}

impl Default for Paywall {
    fn default() -> Self {
        Self {
            title: "Payment required".into(),
            logo_url: None,
            template: DEFAULT_TEMPLATE.into(),
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
        let items: String = offers
            .iter()
            .map(|offer| {
                format!(
                    "<li class=\"offer\"><div class=\"amount\">{} {}</div><div class=\"detail\">on {} · scheme {} · to {}</div></li>\n",
                    escape_html(&offer.amount),
                    escape_html(&offer.asset),
                    escape_html(&offer.network),
                    escape_html(&offer.scheme),
                    escape_html(&offer.pay_to),
                )
            })
            .collect();
        let json = serde_json::to_string(required)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let description = required.resource.description.clone().unwrap_or_default();
        self.template
            .replace("{{title}}", &escape_html(&self.title))
            .replace("{{logo}}", &logo)
            .replace("{{description}}", &escape_html(&description))
            .replace("{{resource}}", &escape_html(&required.resource.url))
            .replace("{{offers}}", &items)
            .replace("{{payment_required_json}}", &json)
    }
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
