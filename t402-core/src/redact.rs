//! Keeping secrets out of messages: URLs of RPC nodes and facilitators often carry an API key in
//! their path, query or user info, and transport errors quote the URL they failed on.

use std::borrow::Cow;

/// `text` with every `http://`, `https://`, `ws://` or `wss://` URL cut to its scheme and host
/// (`https://host/…`): user info, port, path and query are dropped.
///
/// ```
/// use t402_core::redact::redact_urls;
/// let message = "error sending request for url (https://user:pw@rpc.example/v2/KEY?x=1)";
/// assert_eq!(
///     redact_urls(message),
///     "error sending request for url (https://rpc.example/…)"
/// );
/// ```
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_url(rest) {
        let (before, url) = rest.split_at(found.start);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>' | ','))
            .unwrap_or(url.len());
        let after_scheme = &url[found.scheme_len + 3..end];
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        let host_and_port = authority.rsplit('@').next().unwrap_or("");
        let host = strip_port(host_and_port);
        out.push_str(&url[..found.scheme_len + 3]);
        out.push_str(host);
        if end > found.scheme_len + 3 + host.len() {
            out.push_str("/…");
        }
        rest = &url[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

struct Found {
    start: usize,
    scheme_len: usize,
}

fn find_url(text: &str) -> Option<Found> {
    ["https://", "http://", "wss://", "ws://"]
        .iter()
        .filter_map(|prefix| {
            let start = text.to_ascii_lowercase().find(prefix)?;
            Some(Found {
                start,
                scheme_len: prefix.len() - 3,
            })
        })
        .min_by_key(|found| found.start)
}

/// A host without its port (`[::1]:8545` → `[::1]`, `rpc.example:443` → `rpc.example`).
fn strip_port(host_and_port: &str) -> &str {
    if host_and_port.starts_with('[') {
        return host_and_port
            .find(']')
            .map_or(host_and_port, |end| &host_and_port[..=end]);
    }
    host_and_port
        .split_once(':')
        .map_or(host_and_port, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_only_scheme_and_host() {
        for (text, expected) in [
            ("no url here", "no url here"),
            ("http://127.0.0.1:8545", "http://127.0.0.1/…"),
            ("http://rpc.example", "http://rpc.example"),
            (
                "for url (https://base.g.alchemy.com/v2/SECRET): refused",
                "for url (https://base.g.alchemy.com/…): refused",
            ),
            (
                "HTTPS://h.example/?apikey=SECRET end",
                "HTTPS://h.example/… end",
            ),
            ("wss://u:SECRET@h.example/x", "wss://h.example/…"),
            (
                "a http://a.example/1 and https://b.example/2",
                "a http://a.example/… and https://b.example/…",
            ),
            ("http://[::1]:8545/key", "http://[::1]/…"),
        ] {
            assert_eq!(redact_urls(text), expected, "{text}");
        }
    }
}
