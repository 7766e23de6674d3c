//! Splits `securityContext.domain` with the Public Suffix List into ECS
//! `registered_domain`, `top_level_domain` and `subdomain`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use publicsuffix::{List, Psl};

/// The Public Suffix List compiled into the crate (MPL-2.0, see `data/README.md`).
const PUBLIC_SUFFIX_LIST: &str = include_str!("../data/public_suffix_list.dat");

/// The compiled-in list, parsed once per process.
pub(crate) fn default_list() -> Arc<List> {
    static LIST: OnceLock<Arc<List>> = OnceLock::new();
    Arc::clone(LIST.get_or_init(|| {
        // The vendored file is a valid list; the unit tests parse it.
        Arc::new(PUBLIC_SUFFIX_LIST.parse::<List>().unwrap_or_default())
    }))
}

/// The parts of a domain name, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DomainParts<'a> {
    /// Effective TLD + 1, e.g. `example.co.uk`.
    pub(crate) registered: Cow<'a, str>,
    /// Effective TLD (public suffix), e.g. `co.uk`.
    pub(crate) top_level: Cow<'a, str>,
    /// What precedes the registered domain, e.g. `www`, if anything.
    pub(crate) subdomain: Option<Cow<'a, str>>,
}

/// Splits `domain`. Returns `None` for names that have no registered domain:
/// "." or empty, a single label, an IP address, or a name that is itself a
/// public suffix. Matching is ASCII case-insensitive; a trailing dot is ignored.
pub(crate) fn split<'a>(list: &List, domain: &'a str) -> Option<DomainParts<'a>> {
    let name = domain.trim().trim_end_matches('.');
    if name.is_empty() || name.parse::<IpAddr>().is_ok() || name.starts_with('.') {
        return None;
    }
    let lower: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    };
    let found = list.domain(lower.as_bytes())?;
    let registered_len = found.as_bytes().len();
    let suffix_len = found.suffix().as_bytes().len();
    // Lower-casing ASCII keeps byte offsets, so slice the lower-cased name
    // (ECS domains are lower case) at the same positions.
    let cut = |range: std::ops::Range<usize>| -> Option<Cow<'a, str>> {
        match &lower {
            Cow::Borrowed(s) => s.get(range).map(Cow::Borrowed),
            Cow::Owned(s) => s.get(range).map(|p| Cow::Owned(p.to_owned())),
        }
    };
    let len = lower.len();
    let registered = cut(len - registered_len..len)?;
    let top_level = cut(len - suffix_len..len)?;
    let subdomain = if registered_len + 1 < len {
        cut(0..len - registered_len - 1)
    } else {
        None
    };
    Some(DomainParts {
        registered,
        top_level,
        subdomain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(domain: &str) -> Option<(String, String, Option<String>)> {
        split(&default_list(), domain).map(|p| {
            (
                p.registered.into_owned(),
                p.top_level.into_owned(),
                p.subdomain.map(Cow::into_owned),
            )
        })
    }

    #[test]
    fn compiled_in_list_parses() {
        assert!(!default_list().is_empty());
    }

    #[test]
    fn simple_and_multi_label_suffixes() {
        assert_eq!(
            parts("example.org"),
            Some(("example.org".into(), "org".into(), None))
        );
        assert_eq!(
            parts("www.bbc.co.uk"),
            Some(("bbc.co.uk".into(), "co.uk".into(), Some("www".into())))
        );
        assert_eq!(
            parts("a.b.example.com"),
            Some(("example.com".into(), "com".into(), Some("a.b".into())))
        );
    }

    #[test]
    fn case_and_trailing_dot_are_ignored() {
        assert_eq!(
            parts("Mail.Example.COM."),
            Some(("example.com".into(), "com".into(), Some("mail".into())))
        );
    }

    #[test]
    fn names_without_registered_domain() {
        assert_eq!(parts("."), None);
        assert_eq!(parts(""), None);
        assert_eq!(parts("localhost"), None);
        assert_eq!(parts("co.uk"), None);
        assert_eq!(parts("1.2.3.4"), None);
        assert_eq!(parts("2001:db8::1"), None);
        assert_eq!(parts(".example.com"), None);
    }

    #[test]
    fn custom_list_is_used() {
        let list: List = "// ===BEGIN ICANN DOMAINS===\ncorp\n"
            .parse()
            .expect("valid list");
        assert_eq!(
            split(&list, "host.site.corp").map(|p| p.registered.into_owned()),
            Some("site.corp".to_owned())
        );
    }
}
