//! `client.userAgent.rawUserAgent` → ECS `user_agent.*`, parsed with woothee
//! and cached per distinct string.
//!
//! Values follow the conventions of the uap-core parsers that Elastic's and
//! Sekoia.io's pipelines use, where woothee can tell: "Other" for unknown
//! names, versions cut to three components, "Windows" + "10" rather than
//! "Windows 10", and device names such as "Generic Smartphone".

use crate::cache::BoundedCache;

/// Parsed user agent, shared by every event with the same string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserAgentInfo {
    /// `user_agent.name` ("Other" when unknown).
    pub(crate) name: String,
    /// `user_agent.version`, at most three components.
    pub(crate) version: Option<String>,
    /// `user_agent.os.name`, `None` when woothee does not know it.
    pub(crate) os_name: Option<String>,
    /// `user_agent.os.version`.
    pub(crate) os_version: Option<String>,
    /// `user_agent.device.name`.
    pub(crate) device_name: &'static str,
    /// True when no field above holds a byte JSON strings must escape (found once per
    /// distinct agent, so the writer copies the fields without its escape scan).
    pub(crate) clean: bool,
}

/// Parser with a bounded cache of results.
#[derive(Debug, Clone)]
pub(crate) struct UserAgentParser {
    cache: BoundedCache<UserAgentInfo>,
}

impl UserAgentParser {
    /// A parser caching at most `capacity` distinct strings.
    pub(crate) fn new(capacity: usize) -> Self {
        UserAgentParser {
            cache: BoundedCache::new(capacity),
        }
    }

    /// The parse of `raw`, from the cache when seen recently.
    pub(crate) fn parse(&mut self, raw: &str) -> std::sync::Arc<UserAgentInfo> {
        self.cache.get_or_insert_with(raw, parse_uncached)
    }

    /// Number of cached strings.
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }
}

const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;

fn known(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty() && *s != UNKNOWN)
}

/// Parses one user agent string with woothee.
pub(crate) fn parse_uncached(raw: &str) -> UserAgentInfo {
    let mut info = parse_fields(raw);
    let clean = crate::writer::is_clean;
    info.clean = clean(&info.name)
        && info.version.as_deref().is_none_or(clean)
        && info.os_name.as_deref().is_none_or(clean)
        && info.os_version.as_deref().is_none_or(clean)
        && clean(info.device_name);
    info
}

/// [`parse_uncached`] without [`UserAgentInfo::clean`].
fn parse_fields(raw: &str) -> UserAgentInfo {
    let Some(r) = woothee::parser::Parser::new().parse(raw) else {
        let (name, version) = unknown_browser(raw);
        return UserAgentInfo {
            name,
            version,
            device_name: "Other",
            ..UserAgentInfo::default()
        };
    };
    let app = app_os(raw);
    let (os_name, os_version) = match known(r.os) {
        Some(os) => {
            let (name, version_in_name) = os_name_and_version(os);
            let version = version_in_name
                .map(str::to_owned)
                .or_else(|| known(&r.os_version).map(|v| v.replace('_', ".")))
                .or_else(|| app.filter(|(n, _)| *n == name).map(|(_, v)| v));
            (Some(name.to_owned()), version)
        }
        // An app's own token (`Android/14`, `iOS 17.4.1`) when woothee does not know the OS.
        None => match app {
            Some((name, version)) => (Some(name.to_owned()), Some(version)),
            None => (None, None),
        },
    };
    let device_name = match (r.os, r.category) {
        ("iPhone", _) => "iPhone",
        ("iPad", _) => "iPad",
        ("iPod", _) => "iPod",
        ("Mac OSX", _) => "Mac",
        (_, "smartphone") => "Generic Smartphone",
        (_, "mobilephone") => "Generic Feature Phone",
        (_, "crawler") => "Spider",
        _ => "Other",
    };
    let (name, version) = match known(r.name) {
        // woothee names HTTP client libraries "HTTP Library" and puts the
        // library ("curl", "java", ...) in the version.
        Some("HTTP Library") => match single_product_token(raw) {
            Some((name, version)) => (name.to_owned(), Some(three_components(version))),
            None => (known(r.version).unwrap_or("Other").to_owned(), None),
        },
        Some(name) => (name.to_owned(), known(r.version).map(three_components)),
        None => unknown_browser(raw),
    };
    UserAgentInfo {
        name,
        version,
        os_name,
        os_version,
        device_name,
        clean: false,
    }
}

/// The OS and its version from the tokens mobile apps and Okta's Device SDK put in
/// their agents (Okta Verify: `com.okta.android.auth/9.18.0 DeviceSDK/0.19.0
/// Android/14 ...`, `OktaVerify/9.20.1 (iPhone15,2; iOS 17.4.1; Scale/3.00)
/// DeviceSDK/1.12.0`): `Android/<v>` or `Android <v>`, `iOS <v>`, `iPadOS <v>`,
/// `macOS <v>`. The version is the digits, dots and underscores (as dots) that follow.
fn app_os(raw: &str) -> Option<(&'static str, String)> {
    const TOKENS: &[(&str, &str)] = &[
        ("Android/", "Android"),
        ("Android ", "Android"),
        ("iOS ", "iOS"),
        ("iPadOS ", "iOS"),
        ("macOS ", "Mac OS X"),
    ];
    for (token, name) in TOKENS {
        let mut from = 0;
        while let Some(i) = raw[from..].find(token) {
            let start = from + i;
            from = start + token.len();
            // A whole word: `xiOS 1` is not iOS.
            let boundary = raw[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            let rest = &raw[from..];
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            let version = rest[..len].trim_end_matches(['.', '_']);
            if boundary && version.starts_with(|c: char| c.is_ascii_digit()) {
                return Some((name, version.replace('_', ".")));
            }
        }
    }
    None
}

/// Splits an OS label that carries its version ("Windows 10", "Windows 8.1")
/// and renames woothee's labels to the usual ones ("Mac OSX" → "Mac OS X",
/// "iPhone"/"iPad" → "iOS").
pub(crate) fn os_name_and_version(os: &str) -> (&str, Option<&str>) {
    match os {
        "Mac OSX" => ("Mac OS X", None),
        "iPhone" | "iPad" | "iPod" => ("iOS", None),
        _ => match os.strip_prefix("Windows ") {
            Some(version) if version.starts_with(|c: char| c.is_ascii_digit()) => {
                ("Windows", Some(version))
            }
            Some("XP") => ("Windows", Some("XP")),
            Some("Vista") => ("Windows", Some("Vista")),
            _ => (os, None),
        },
    }
}

/// Name and version when woothee does not know the browser: the product
/// token of a single-token agent, else "Other".
fn unknown_browser(raw: &str) -> (String, Option<String>) {
    match single_product_token(raw) {
        Some((name, version)) => (name.to_owned(), Some(three_components(version))),
        None => ("Other".to_owned(), None),
    }
}

/// A user agent that is exactly one `product/version` token, as HTTP client
/// libraries send (`axios/0.19.2`, `python-requests/2.31.0`, `okhttp/4.12.0`).
fn single_product_token(raw: &str) -> Option<(&str, &str)> {
    let raw = raw.trim();
    if raw.contains(char::is_whitespace) {
        return None;
    }
    let (name, version) = raw.split_once('/')?;
    let name_ok = !name.is_empty() && name.chars().any(|c| c.is_ascii_alphabetic());
    let version_ok = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    (name_ok && version_ok).then_some((name, version))
}

/// Keeps at most three dot-separated components ("107.0.0.0" → "107.0.0").
fn three_components(version: &str) -> String {
    match version.match_indices('.').nth(2) {
        Some((i, _)) => version[..i].to_owned(),
        None => version.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_chrome_on_windows() {
        let ua = parse_uncached(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0.0.0 Safari/537.36",
        );
        assert_eq!(ua.name, "Chrome");
        assert_eq!(ua.version.as_deref(), Some("107.0.0"));
        assert_eq!(ua.os_name.as_deref(), Some("Windows"));
        assert_eq!(ua.os_version.as_deref(), Some("10"));
        assert_eq!(ua.device_name, "Other");
    }

    #[test]
    fn mobile_chrome_on_android() {
        let ua = parse_uncached(
            "Mozilla/5.0 (Linux; Android 13; Infinix X6525 Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.7390.122 Mobile Safari/537.36",
        );
        assert_eq!(ua.name, "Chrome");
        assert_eq!(ua.version.as_deref(), Some("141.0.7390"));
        assert_eq!(ua.os_name.as_deref(), Some("Android"));
        assert_eq!(ua.os_version.as_deref(), Some("13"));
        assert_eq!(ua.device_name, "Generic Smartphone");
    }

    #[test]
    fn iphone_safari() {
        let ua = parse_uncached(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.1 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(ua.name, "Safari");
        assert_eq!(ua.os_name.as_deref(), Some("iOS"));
        assert_eq!(ua.os_version.as_deref(), Some("16.1"));
        assert_eq!(ua.device_name, "iPhone");
    }

    #[test]
    fn okta_verify_and_device_sdk_agents_have_their_os_version() {
        let android = parse_uncached(
            "com.okta.android.auth/9.18.0 DeviceSDK/0.19.0 Android/14 samsung/SM-S911B",
        );
        assert_eq!(android.os_name.as_deref(), Some("Android"));
        assert_eq!(android.os_version.as_deref(), Some("14"));
        let ios = parse_uncached(
            "OktaVerify/9.20.1 (iPhone15,2; iOS 17.4.1; Scale/3.00) DeviceSDK/1.12.0",
        );
        assert_eq!(ios.os_name.as_deref(), Some("iOS"));
        assert_eq!(ios.os_version.as_deref(), Some("17.4.1"));
        let pixel = parse_uncached(
            "0123ABC.com.okta.android.auth/8.25.0 Android/16 Google/Pixel_9_Pro ABCDEF/a123/mh/Q",
        );
        assert_eq!(
            (pixel.os_name.as_deref(), pixel.os_version.as_deref()),
            (Some("Android"), Some("16"))
        );
        assert_eq!(
            app_os("SomeApp/1.0 (Mac; macOS 14_4_1)"),
            Some(("Mac OS X", "14.4.1".to_owned()))
        );
        assert_eq!(app_os("xiOS 12 Android/beta"), None);
        assert_eq!(app_os("curl/8.5.0"), None);
    }

    #[test]
    fn unknown_agents_are_other() {
        let ua = parse_uncached("Okta-Integrations");
        assert_eq!(ua.name, "Other");
        assert_eq!(ua.version, None);
        assert_eq!(ua.os_name, None);
        assert_eq!(ua.device_name, "Other");
    }

    #[test]
    fn http_client_libraries_are_named() {
        let ua = parse_uncached("axios/0.19.2");
        assert_eq!(ua.name, "axios");
        assert_eq!(ua.version.as_deref(), Some("0.19.2"));
        assert_eq!(ua.device_name, "Other");
        assert_eq!(
            parse_uncached("python-requests/2.31.0.1")
                .version
                .as_deref(),
            Some("2.31.0")
        );
        assert_eq!(parse_uncached("Okta-Integrations").name, "Other");
        let curl = parse_uncached("curl/8.5.0");
        assert_eq!(
            (curl.name.as_str(), curl.version.as_deref()),
            ("curl", Some("8.5.0"))
        );
        let jetty = parse_uncached("Jetty-Client/9.4.51_v20230217");
        assert_eq!(jetty.name, "Jetty-Client");
        assert_eq!(jetty.version.as_deref(), Some("9.4.51_v20230217"));
        assert_eq!(parse_uncached("a/b c/1").name, "Other");
        assert_eq!(parse_uncached("thing/beta").name, "Other");
    }

    #[test]
    fn versions_are_cut_to_three_components() {
        assert_eq!(three_components("1.2.3.4.5"), "1.2.3");
        assert_eq!(three_components("109.0"), "109.0");
        assert_eq!(three_components("7"), "7");
    }

    #[test]
    fn os_labels_are_split() {
        assert_eq!(os_name_and_version("Windows 10"), ("Windows", Some("10")));
        assert_eq!(os_name_and_version("Windows 8.1"), ("Windows", Some("8.1")));
        assert_eq!(
            os_name_and_version("Windows UNKNOWN Ver"),
            ("Windows UNKNOWN Ver", None)
        );
        assert_eq!(os_name_and_version("Android"), ("Android", None));
    }

    #[test]
    fn cache_is_bounded_and_reused() {
        let mut parser = UserAgentParser::new(16);
        for i in 0..200 {
            parser.parse(&format!("agent/{i}"));
            assert!(parser.cached() <= 16);
        }
        let a =
            parser.parse("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0");
        let b =
            parser.parse("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0");
        assert!(std::sync::Arc::ptr_eq(&a, &b));
    }
}
