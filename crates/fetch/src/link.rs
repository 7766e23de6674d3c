//! Parsing of `Link` headers (RFC 8288) as Okta sends them: `<url>; rel="next"`.

use reqwest::header::{HeaderMap, LINK};

/// The target of the first link whose `rel` contains `rel` (case-insensitive), across all
/// `Link` header fields of a response.
pub fn find_link(headers: &HeaderMap, rel: &str) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_link_header)
        .find(|link| link.rels.iter().any(|r| r.eq_ignore_ascii_case(rel)))
        .map(|link| link.target)
}

/// One link of a `Link` header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI reference between `<` and `>`.
    pub target: String,
    /// The relation types of the `rel` parameter (space-separated in the header).
    pub rels: Vec<String>,
}

/// Parses one `Link` header field value, which may hold several comma-separated links.
/// Malformed links are skipped.
pub fn parse_link_header(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            break;
        };
        let Some(close) = after_open.find('>') else {
            break;
        };
        let target = after_open[..close].trim().to_string();
        rest = &after_open[close + 1..];
        let (params, remainder) = split_params(rest);
        rest = remainder;
        let rels = params
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("rel"))
            .flat_map(|(_, value)| value.split_whitespace().map(str::to_string))
            .collect();
        links.push(Link { target, rels });
    }
    links
}

/// Reads `; name=value` / `; name="value"` parameters up to the comma that ends the link.
fn split_params(mut rest: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some(after_semi) = rest.strip_prefix(';') else {
            return (params, rest);
        };
        let after_semi = after_semi.trim_start();
        let name_end = after_semi.find(['=', ';', ',']).unwrap_or(after_semi.len());
        let name = after_semi[..name_end].trim().to_string();
        rest = &after_semi[name_end..];
        let mut value = String::new();
        if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            if let Some(quoted) = after_eq.strip_prefix('"') {
                let mut escaped = false;
                let mut end = quoted.len();
                for (i, c) in quoted.char_indices() {
                    if escaped {
                        value.push(c);
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i + 1;
                        break;
                    } else {
                        value.push(c);
                    }
                }
                rest = &quoted[end.min(quoted.len())..];
            } else {
                let end = after_eq.find([';', ',']).unwrap_or(after_eq.len());
                value = after_eq[..end].trim().to_string();
                rest = &after_eq[end..];
            }
        }
        if !name.is_empty() {
            params.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn okta_style_separate_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static("<https://acme.okta.com/api/v1/logs?limit=100&since=2024-01-01T00%3A00%3A00.000Z>; rel=\"self\""),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://acme.okta.com/api/v1/logs?limit=100&after=1704067200000_1>; rel=\"next\"",
            ),
        );
        assert_eq!(
            find_link(&headers, "next").as_deref(),
            Some("https://acme.okta.com/api/v1/logs?limit=100&after=1704067200000_1")
        );
        assert!(find_link(&headers, "self").is_some());
        assert!(find_link(&headers, "prev").is_none());
    }

    #[test]
    fn several_links_in_one_field_with_commas_in_urls() {
        let links = parse_link_header(
            "<https://x/a?q=1,2>; rel=\"self\", <https://x/b?after=z>; title=\"a, b; c\"; rel=next",
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "https://x/a?q=1,2");
        assert_eq!(links[0].rels, vec!["self"]);
        assert_eq!(links[1].target, "https://x/b?after=z");
        assert_eq!(links[1].rels, vec!["next"]);
    }

    #[test]
    fn multiple_rel_values_and_case() {
        let links = parse_link_header("<https://x/c>; REL=\"prev Next\"");
        assert_eq!(links[0].rels, vec!["prev", "Next"]);
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("<https://x/c>; REL=\"prev Next\""),
        );
        assert_eq!(find_link(&headers, "next").as_deref(), Some("https://x/c"));
    }

    #[test]
    fn malformed_is_skipped_not_panicking() {
        assert!(parse_link_header("").is_empty());
        assert!(parse_link_header("https://no-brackets; rel=next").is_empty());
        assert!(parse_link_header("<https://unterminated; rel=next").is_empty());
        let links = parse_link_header("<https://x/d>; rel=\"next");
        assert_eq!(links[0].rels, vec!["next"]);
        let links = parse_link_header("<https://x/e>");
        assert!(links[0].rels.is_empty());
    }
}
