//! The one secret-scrubbing rule: no secret the process holds leaves it in text.
//!
//! Every [`Secret`](crate::Secret) created with [`Secret::new`](crate::Secret::new) (the API
//! token, the OAuth private key, every sink password, API key, HEC token or header read
//! through a [`SecretRef`](crate::SecretRef)) is **registered** here, process-wide. [`scrub`]
//! replaces every occurrence of a registered value in a text with [`REDACTED`], whatever the
//! text's origin: an error message, a log line, an Okta or proxy error body that echoes the
//! `Authorization` header, a panic message. The binary applies it at every exit: the log
//! writer ([`ScrubWriter`]), the one-line error at exit, `oktaflow check`'s table, `/ready`,
//! `/metrics` and the panic hook ([`install_panic_hook`]).
//!
//! What is registered:
//!
//! * the value, trimmed, and each of its whitespace-separated words (an `Authorization`
//!   value `Splunk <token>` registers the token on its own; a PEM key registers each of its
//!   base64 lines) — except words with `-----` (PEM armour lines);
//! * the JSON-escaped form of each, when it differs (a value with `"` or `\` as it appears in
//!   a JSON log line);
//! * only pieces of at least [`MIN_SECRET_LEN`] (8) characters: a shorter value cannot be
//!   told from ordinary words (scrubbing a 4-letter password would blank that word in every
//!   message) and is too short to be a credential worth hiding this way. Okta API tokens
//!   (42 characters), OAuth keys, Elasticsearch API keys and HEC tokens are all far longer.
//!
//! Values stay registered until the process ends (an error that quotes a secret may be
//! printed after the configuration holding it was dropped). Short-lived values obtained at
//! run time (OAuth access tokens, renewed every hour) are created with
//! [`Secret::unlisted`](crate::Secret::unlisted) so the registry does not grow: they are sent
//! only to the org, whose error bodies are cleaned of `Authorization`-like values at their
//! source ([`scrub_authorization`]).

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};

use secrecy::{ExposeSecret, SecretString};

/// What a scrubbed secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Pieces of a secret shorter than this many characters are not scrubbed (see the module
/// documentation).
pub const MIN_SECRET_LEN: usize = 8;

/// The registered values, longest first (so a value containing another is replaced whole).
fn registry() -> MutexGuard<'static, Vec<SecretString>> {
    static REGISTRY: OnceLock<Mutex<Vec<SecretString>>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Registers `value` (see the module documentation for what is kept); called by
/// [`Secret::new`](crate::Secret::new).
pub fn register(value: &str) {
    let value = value.trim();
    let mut pieces = vec![value];
    if value.contains(char::is_whitespace) {
        pieces.extend(value.split_whitespace());
    }
    let mut registry = registry();
    for piece in pieces {
        if piece.chars().count() < MIN_SECRET_LEN || piece.contains("-----") {
            continue;
        }
        let escaped = json_escaped(piece);
        for form in [Some(piece.to_string()), escaped].into_iter().flatten() {
            if !registry.iter().any(|known| known.expose_secret() == form) {
                registry.push(SecretString::from(form));
            }
        }
    }
    registry.sort_by_key(|known| std::cmp::Reverse(known.expose_secret().len()));
}

/// `value` as it appears inside a JSON string, when that differs from `value`.
fn json_escaped(value: &str) -> Option<String> {
    if !value.contains(['"', '\\']) {
        return None;
    }
    Some(value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `text` with every registered secret replaced by [`REDACTED`] (borrowed when none occurs).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let registry = registry();
    let mut out = Cow::Borrowed(text);
    for secret in registry.iter() {
        let secret = secret.expose_secret();
        if out.contains(secret) {
            out = Cow::Owned(out.replace(secret, REDACTED));
        }
    }
    out
}

/// [`scrub`] for bytes that may not be UTF-8 (a log line being written): registered values
/// are found byte for byte.
pub fn scrub_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let registry = registry();
    let mut out = Cow::Borrowed(bytes);
    for secret in registry.iter() {
        let needle = secret.expose_secret().as_bytes();
        if memchr::memmem::find(&out, needle).is_none() {
            continue;
        }
        let mut replaced = Vec::with_capacity(out.len());
        let mut rest: &[u8] = &out;
        while let Some(at) = memchr::memmem::find(rest, needle) {
            replaced.extend_from_slice(&rest[..at]);
            replaced.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[at + needle.len()..];
        }
        replaced.extend_from_slice(rest);
        out = Cow::Owned(replaced);
    }
    out
}

/// `text` (a server's error message) with the credential of every `Authorization`-like value
/// replaced by [`REDACTED`]: the word after `SSWS`, `Bearer`, `Basic`, `ApiKey` or `Splunk`
/// (any case) when it looks like a credential: at least [`MIN_SECRET_LEN`] characters with a
/// digit in them, or at least 20 characters. For error bodies, where
/// a misbehaving proxy or gateway may echo the request's credentials, even ones this process
/// never registered (an OAuth access token).
pub fn scrub_authorization(text: &str) -> Cow<'_, str> {
    const SCHEMES: [&str; 5] = ["ssws", "bearer", "basic", "apikey", "splunk"];
    let words: Vec<&str> = text.split(' ').collect();
    let mut changed = false;
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let previous = i
            .checked_sub(1)
            .map(|p| words[p].trim_start_matches(|c: char| !c.is_ascii_alphanumeric()));
        let after_scheme =
            previous.is_some_and(|p| SCHEMES.iter().any(|s| p.eq_ignore_ascii_case(s)));
        let len = word.chars().count();
        let credential =
            (len >= MIN_SECRET_LEN && word.contains(|c: char| c.is_ascii_digit())) || len >= 20;
        if after_scheme && credential {
            changed = true;
            out.push(REDACTED);
        } else {
            out.push(word);
        }
    }
    if changed {
        Cow::Owned(out.join(" "))
    } else {
        Cow::Borrowed(text)
    }
}

/// A writer that scrubs what goes through it, line by line: bytes are held until a newline
/// (or [`flush`](Write::flush), or the drop), so a secret split across two `write` calls is
/// still found. Wrap every writer whose output leaves the process (the log subscriber's).
#[derive(Debug)]
pub struct ScrubWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> ScrubWriter<W> {
    /// Scrubs what is written to `inner`.
    pub fn new(inner: W) -> ScrubWriter<W> {
        ScrubWriter {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let scrubbed = scrub_bytes(&self.line[..upto]).into_owned();
        self.line.drain(..upto);
        self.inner.write_all(&scrubbed)
    }
}

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        if let Some(last) = memchr::memrchr(b'\n', &self.line) {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit(self.line.len())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Replaces the panic hook with one that prints the same report as Rust's default hook
/// (`thread '…' panicked at file:line:col:`, the message, and the backtrace when
/// `RUST_BACKTRACE` asks for it) through [`scrub`].
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_string());
        let thread = std::thread::current();
        let location = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        let trace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("stack backtrace:\n{backtrace}"),
            _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
                .to_string(),
        };
        let report = format!(
            "\nthread '{}' panicked{location}:\n{message}\n{trace}\n",
            thread.name().unwrap_or("<unnamed>")
        );
        let _ = io::stderr().lock().write_all(scrub(&report).as_bytes());
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn a_registered_secret_is_scrubbed_wherever_it_appears() {
        let _token = Secret::new("00scrubTestTokenAAAAAAAAAAAAAAAAAAAAAAAAA");
        let body =
            r#"{"errorSummary":"Invalid header: SSWS 00scrubTestTokenAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
        assert_eq!(
            scrub(body),
            r#"{"errorSummary":"Invalid header: SSWS [REDACTED]"}"#
        );
        assert_eq!(
            scrub_bytes(b"x 00scrubTestTokenAAAAAAAAAAAAAAAAAAAAAAAAA\n").as_ref(),
            b"x [REDACTED]\n"
        );
        assert!(matches!(scrub("nothing secret here"), Cow::Borrowed(_)));
    }

    #[test]
    fn words_of_a_header_value_and_pem_lines_are_registered_but_short_pieces_are_not() {
        let _header = Secret::new("Splunk hecTokenForScrubTest-1234");
        assert_eq!(scrub("echo: hecTokenForScrubTest-1234"), "echo: [REDACTED]");
        assert_eq!(scrub("Splunk HEC"), "Splunk HEC", "the scheme stays");
        let _pem = Secret::new(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCscrub\n-----END PRIVATE KEY-----\n",
        );
        assert_eq!(
            scrub("key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASCscrub leaked"),
            "key line [REDACTED] leaked"
        );
        assert_eq!(
            scrub("expected -----BEGIN ... PRIVATE KEY-----"),
            "expected -----BEGIN ... PRIVATE KEY-----"
        );
        let _short = Secret::new("pass");
        assert_eq!(scrub("password: pass"), "password: pass");
    }

    #[test]
    fn json_escaped_forms_are_scrubbed() {
        let _quoted = Secret::new(r#"pa"ss\word-scrub"#);
        let line = serde_json::json!({ "error": r#"bad pa"ss\word-scrub"# }).to_string();
        assert_eq!(line, r#"{"error":"bad pa\"ss\\word-scrub"}"#);
        assert_eq!(scrub(&line), r#"{"error":"bad [REDACTED]"}"#);
    }

    #[test]
    fn authorization_values_are_scrubbed_without_registration() {
        assert_eq!(
            scrub_authorization("Invalid value for header: SSWS 00unregisteredTOKENvalue123"),
            "Invalid value for header: SSWS [REDACTED]"
        );
        assert_eq!(
            scrub_authorization("got 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig' from client"),
            "got 'Bearer [REDACTED] from client"
        );
        assert_eq!(
            scrub_authorization("Basic authentication failed"),
            "Basic authentication failed",
            "a word without a digit is a word"
        );
        assert!(matches!(
            scrub_authorization("Invalid token provided"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_writer_scrubs_a_secret_split_across_writes() {
        let _token = Secret::new("splitAcrossWritesSecret42");
        let mut out = Vec::new();
        {
            let mut writer = ScrubWriter::new(&mut out);
            writer.write_all(b"one splitAcross").unwrap();
            writer.write_all(b"WritesSecret42 two\nthree ").unwrap();
            writer.write_all(b"splitAcrossWritesSecret42").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "one [REDACTED] two\nthree [REDACTED]"
        );
    }
}
