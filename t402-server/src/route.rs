//! Route patterns (`"GET /weather"`, `"/api/*"`, `"POST /items/:id"`, `"/posts/[slug]"`) and the
//! request-path normalisation they are matched against (protocol reference §11.3).

use std::fmt;

/// Why a route pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutePatternError {
    /// The pattern is empty.
    #[error("a route pattern is empty")]
    Empty,
    /// The method part is not a word (`GET`, `POST`, `*`, ...).
    #[error("invalid method `{0}` in route pattern")]
    Method(String),
    /// The path part does not start with `/`.
    #[error("the path of route pattern `{0}` must start with `/`")]
    Path(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A literal segment, lowercased.
    Literal(String),
    /// `:name` or `[name]`: any one non-empty segment.
    Param,
    /// `*`: any number of segments (zero included).
    Wildcard,
}

/// A parsed route pattern: an optional method and a path with literal, parameter and wildcard
/// segments. Matching is case-insensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct RoutePattern {
    text: String,
    method: Option<String>,
    segments: Vec<Segment>,
}

impl fmt::Debug for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoutePattern({:?})", self.text)
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl RoutePattern {
    /// Parses `"[VERB ]<path>"`. A missing verb, or `*`, matches every method; `"*"` alone matches
    /// every request.
    pub fn parse(text: &str) -> Result<Self, RoutePatternError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(RoutePatternError::Empty);
        }
        let (method, path) = match trimmed.split_once(char::is_whitespace) {
            Some((verb, path)) => (Some(verb), path.trim()),
            None => (None, trimmed),
        };
        let method = match method {
            None | Some("*") => None,
            Some(verb) if verb.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(verb.to_ascii_uppercase())
            }
            Some(verb) => return Err(RoutePatternError::Method(verb.to_owned())),
        };
        let segments = if path == "*" {
            vec![Segment::Wildcard]
        } else {
            if !path.starts_with('/') {
                return Err(RoutePatternError::Path(trimmed.to_owned()));
            }
            split_path(path)
                .map(|segment| {
                    if segment == "*" {
                        Segment::Wildcard
                    } else if segment.starts_with(':')
                        || (segment.starts_with('[') && segment.ends_with(']'))
                    {
                        Segment::Param
                    } else {
                        Segment::Literal(segment.to_lowercase())
                    }
                })
                .collect()
        };
        Ok(Self {
            text: trimmed.to_owned(),
            method,
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the request `method` and raw `path` (query and fragment allowed) match.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let normalised = normalise_path(path);
        let segments: Vec<&str> = split_path(&normalised).collect();
        self.matches_segments(method, &segments)
    }

    /// Whether `method` and the segments of an already normalised path match.
    pub(crate) fn matches_segments(&self, method: &str, segments: &[&str]) -> bool {
        if let Some(expected) = &self.method
            && !expected.eq_ignore_ascii_case(method)
        {
            return false;
        }
        match_segments(&self.segments, segments)
    }
}

/// The request path normalised, borrowed when it needs no change.
pub(crate) fn normalised_request_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.contains(['%', '\\', '?', '#']) || path.contains("//") {
        std::borrow::Cow::Owned(normalise_path(path))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// Splits a normalised path into its segments.
pub(crate) fn segments_of(path: &str) -> Vec<&str> {
    split_path(path).collect()
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

fn match_segments(pattern: &[Segment], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Segment::Wildcard, rest)) => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((Segment::Param, rest)) => !path.is_empty() && match_segments(rest, &path[1..]),
        Some((Segment::Literal(literal), rest)) => {
            path.first()
                .is_some_and(|segment| eq_lowercase(segment, literal))
                && match_segments(rest, &path[1..])
        }
    }
}

/// Whether `segment` lowercased equals `lower` (already lowercase), without allocating for ASCII.
fn eq_lowercase(segment: &str, lower: &str) -> bool {
    if segment.is_ascii() {
        segment.eq_ignore_ascii_case(lower)
    } else {
        segment.to_lowercase() == lower
    }
}

/// Normalises a request path: query and fragment removed, percent-decoded, `\` read as `/`,
/// repeated `/` collapsed, trailing `/` dropped (the root stays `/`).
pub fn normalise_path(path: &str) -> String {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let decoded = percent_decode(&path[..end]).replace('\\', "/");
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, method: &str, path: &str) -> bool {
        RoutePattern::parse(pattern).unwrap().matches(method, path)
    }

    #[test]
    fn verbs_and_literals() {
        assert!(matches("GET /weather", "GET", "/weather"));
        assert!(matches("GET /weather", "get", "/Weather/"));
        assert!(!matches("GET /weather", "POST", "/weather"));
        assert!(matches("/weather", "DELETE", "/weather?city=paris"));
        assert!(matches("* /weather", "PUT", "/weather#top"));
        assert!(!matches("GET /weather", "GET", "/weather/today"));
    }

    #[test]
    fn parameters_and_wildcards() {
        assert!(matches("GET /items/:id", "GET", "/items/42"));
        assert!(!matches("GET /items/:id", "GET", "/items"));
        assert!(matches(
            "/posts/[slug]/comments",
            "GET",
            "/posts/hello/comments"
        ));
        assert!(matches("/api/*", "GET", "/api/a/b/c"));
        assert!(matches("/api/*", "GET", "/api"));
        assert!(matches("/api/*/raw", "GET", "/api/x/y/raw"));
        assert!(matches("*", "PATCH", "/anything/at/all"));
    }

    #[test]
    fn request_paths_are_normalised() {
        assert_eq!(normalise_path("//a///b/?q=1"), "/a/b");
        assert_eq!(normalise_path("/a%2Fb"), "/a/b");
        assert_eq!(normalise_path("\\a\\b"), "/a/b");
        assert_eq!(normalise_path(""), "/");
        assert_eq!(normalise_path("/%zz"), "/%zz");
        assert!(matches("GET /paid/report", "GET", "/paid//report/"));
        assert!(matches("GET /paid/report", "GET", "/paid/%72eport"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(RoutePattern::parse(" "), Err(RoutePatternError::Empty));
        assert!(matches!(
            RoutePattern::parse("G3T /x"),
            Err(RoutePatternError::Method(_))
        ));
        assert!(matches!(
            RoutePattern::parse("GET weather"),
            Err(RoutePatternError::Path(_))
        ));
    }
}
