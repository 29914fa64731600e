//! Route patterns (`"GET /weather"`, `"/api/*"`, `"POST /items/:id"`, `"/items/{id}"`,
//! `"/files/{*rest}"`, `"/posts/[slug]"`) and the
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
    /// `:name`, `{name}` or `[name]`: any one non-empty segment.
    Param,
    /// `*` or `{*name}`: any number of segments (zero included).
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
                    let braced = segment.starts_with('{') && segment.ends_with('}');
                    if segment == "*" || (braced && segment.starts_with("{*")) {
                        Segment::Wildcard
                    } else if segment.starts_with(':')
                        || braced
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

    /// Whether the request `method` and raw `path` (query and fragment allowed) match, under
    /// any reading of the path a router may take (see [`RequestPath`]).
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = RequestPath::new(path);
        path.readings()
            .any(|segments| self.matches_segments(method, &segments))
    }

    /// Whether `method` and one reading of a request path match. A `GET` pattern also matches
    /// `HEAD`: routers answer `HEAD` with the `GET` handler.
    pub(crate) fn matches_segments<S: AsRef<str>>(&self, method: &str, segments: &[S]) -> bool {
        if let Some(expected) = &self.method
            && !expected.eq_ignore_ascii_case(method)
            && !(expected == "GET" && method.eq_ignore_ascii_case("HEAD"))
        {
            return false;
        }
        match_segments(&self.segments, segments)
    }
}

/// A request path as the layer matches it against priced routes.
///
/// Routers split the raw path at `/` and percent-decode each segment after (axum, matchit): a
/// `%2F` or a `\` stays inside its segment, so `/report/a%2Fb` is `/report/:id` with
/// `id = "a/b"`. Other stacks decode first (or read `\` as `/`) and split after. The layer prices
/// a request when *any* of these readings matches a priced route, so no spelling of a path
/// reaches a handler unpaid. Empty segments (`//`) are dropped and the query and fragment
/// ignored in every reading.
#[derive(Debug, Clone)]
pub struct RequestPath<'a> {
    raw: &'a str,
}

impl<'a> RequestPath<'a> {
    /// The path part of `path` (query and fragment cut).
    pub fn new(path: &'a str) -> Self {
        let end = path.find(['?', '#']).unwrap_or(path.len());
        Self { raw: &path[..end] }
    }

    /// The segments as routers read them: split first, each segment decoded after.
    pub fn segments(&self) -> Vec<std::borrow::Cow<'a, str>> {
        split_path(self.raw).map(percent_decode).collect()
    }

    /// The segments as decoding-first stacks read them: decoded, `\` read as `/`, split after.
    /// `None` when this reading is the same as [`segments`](Self::segments).
    pub fn decoded_first(&self) -> Option<Vec<String>> {
        if !self.raw.contains(['%', '\\']) {
            return None;
        }
        let decoded = percent_decode(self.raw).replace('\\', "/");
        Some(split_path(&decoded).map(str::to_owned).collect())
    }

    /// Every reading of the path, the routers' first.
    pub fn readings(&self) -> impl Iterator<Item = Vec<std::borrow::Cow<'_, str>>> {
        let alternative = self.decoded_first().map(|segments| {
            segments
                .into_iter()
                .map(std::borrow::Cow::Owned)
                .collect::<Vec<_>>()
        });
        std::iter::once(self.segments()).chain(alternative)
    }
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// Whether `path` matches `pattern`, where `*` stands for any number of segments. Greedy
/// matching with one backtrack point (the last `*` seen): at most `pattern × path` steps, however
/// many wildcards the pattern has and however long the request path is.
fn match_segments<S: AsRef<str>>(pattern: &[Segment], path: &[S]) -> bool {
    let one = |segment: &Segment, actual: &S| match segment {
        Segment::Param => true,
        Segment::Literal(literal) => eq_lowercase(actual.as_ref(), literal),
        Segment::Wildcard => false,
    };
    let (mut p, mut s) = (0, 0);
    // The last `*` seen and the path position it was tried from.
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        if p < pattern.len() && pattern[p] == Segment::Wildcard {
            star = Some((p, s));
            p += 1;
        } else if p < pattern.len() && one(&pattern[p], &path[s]) {
            p += 1;
            s += 1;
        } else if let Some((star_p, star_s)) = star {
            // Let the last `*` take one more segment and try again after it.
            p = star_p + 1;
            s = star_s + 1;
            star = Some((star_p, star_s + 1));
        } else {
            return false;
        }
    }
    pattern[p..]
        .iter()
        .all(|segment| *segment == Segment::Wildcard)
}

/// Whether `segment` lowercased equals `lower` (already lowercase), without allocating for ASCII.
fn eq_lowercase(segment: &str, lower: &str) -> bool {
    if segment.is_ascii() {
        segment.eq_ignore_ascii_case(lower)
    } else {
        segment.to_lowercase() == lower
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as written. Borrowed when there is none.
fn percent_decode(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('%') {
        return std::borrow::Cow::Borrowed(text);
    }
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
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
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
    fn axum_style_parameters_are_parameters_not_literals() {
        // Written as axum 0.8 writes routes: taken literally, `/metered/x` would go unpriced.
        assert!(matches("GET /metered/{kind}", "GET", "/metered/typed"));
        assert!(!matches("GET /metered/{kind}", "GET", "/metered"));
        assert!(matches("/files/{*rest}", "GET", "/files/a/b/c"));
        assert!(matches("/files/{*rest}", "GET", "/files"));
    }

    fn segments(path: &str) -> Vec<String> {
        RequestPath::new(path)
            .segments()
            .into_iter()
            .map(|s| s.into_owned())
            .collect()
    }

    #[test]
    fn request_paths_split_first_and_decode_each_segment() {
        assert_eq!(segments("//a///b/?q=1"), ["a", "b"]);
        // An encoded separator stays inside its segment, as routers read it.
        assert_eq!(segments("/a%2Fb"), ["a/b"]);
        assert_eq!(segments("/a\\b"), ["a\\b"]);
        assert!(segments("").is_empty());
        assert_eq!(segments("/%zz"), ["%zz"]);
        // The decoding-first reading is kept as an alternative.
        assert_eq!(
            RequestPath::new("/a%2Fb").decoded_first(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(RequestPath::new("/a/b").decoded_first(), None);
        assert!(matches("GET /paid/report", "GET", "/paid//report/"));
        assert!(matches("GET /paid/report", "GET", "/paid/%72eport"));
        // A parameter holding an encoded separator is still the parameter; the decoded-first
        // reading also matches a pattern with more segments.
        assert!(matches("GET /report/:id", "GET", "/report/a%2Fb"));
        assert!(matches("GET /report/:id", "GET", "/report/a\\b"));
        assert!(matches("GET /report/:id/raw", "GET", "/report/a%2Fraw"));
    }

    #[test]
    fn many_wildcards_against_a_long_path_stay_cheap() {
        let pattern = RoutePattern::parse("/*/*/*/*/*/*/*/*/x").unwrap();
        let long = "/a".repeat(4_000);
        assert!(!pattern.matches("GET", &long));
        assert!(pattern.matches("GET", &format!("{long}/x")));
        assert!(matches("/a/*/b/*/c", "GET", "/a/1/2/b/c"));
        assert!(!matches("/a/*/b/*/c", "GET", "/a/1/2/b/c/d"));
        assert!(matches("/*/end", "GET", "/end/end"));
    }

    #[test]
    fn get_patterns_price_head() {
        assert!(matches("GET /weather", "HEAD", "/weather"));
        assert!(!matches("POST /weather", "HEAD", "/weather"));
        assert!(!matches("HEAD /weather", "GET", "/weather"));
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
