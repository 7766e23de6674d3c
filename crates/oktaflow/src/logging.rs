//! Logging: the `tracing` subscriber of every subcommand.
//!
//! * `--log-format text` (the default): human-readable lines on stderr, coloured when stderr is
//!   a terminal.
//! * `--log-format json` (or `OKTAFLOW_LOG_FORMAT=json`): one JSON object per line with
//!   `timestamp`, `level`, `target`, `fields` (the event's fields, `message` among them) and,
//!   inside a span, `span` / `spans` (so a line logged inside [`source_span`] carries
//!   `"span": {"name": "source", "source": "<name>"}`).
//! * Levels come from `RUST_LOG` (e.g. `RUST_LOG=debug`, `RUST_LOG=oktaflow_fetch=debug`);
//!   without it the subcommand's default applies (`info`). An unparsable `RUST_LOG` is
//!   reported as a warning and the default is used.
//!
//! The format chosen on the command line is recorded once by `main` ([`set_format`]) so that
//! code installing its own writer (the progress console) can read it with [`format`].
//!
//! Every line, text or JSON, goes through [`ScrubWriter`]: no configured secret is written,
//! whatever the text's origin ([`oktaflow_plumbing::scrub`]).

use std::io::IsTerminal;
use std::sync::OnceLock;

use oktaflow_plumbing::ScrubWriter;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line (for journald, Docker, log shippers).
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Records the format chosen on the command line; only the first call counts.
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// The format recorded by [`set_format`] ([`LogFormat::Text`] before that).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// The level filter: `RUST_LOG` when it is set and valid, else `default_filter` (e.g. `info`
/// or `warn,oktaflow=info`). The second value is the parse error of an invalid `RUST_LOG`.
pub fn filter(default_filter: &str) -> (EnvFilter, Option<String>) {
    let fallback = || EnvFilter::try_new(default_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(error) => (fallback(), Some(error.to_string())),
        },
        _ => (fallback(), None),
    }
}

/// Scrubs every line written by the writers of a [`MakeWriter`].
struct Scrubbing<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbing<M> {
    type Writer = ScrubWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter::new(self.0.make_writer())
    }
}

/// A subscriber writing `format` lines through `writer` (scrubbed), filtered by `filter`;
/// `ansi` colours text lines (ignored for JSON).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbing(writer));
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

/// Installs the global subscriber: `format` lines through `writer` (stderr-like: colours are
/// used when stderr is a terminal), levels from `RUST_LOG` or `default_filter`. Returns false
/// (and changes nothing) when a global subscriber is already installed.
pub fn init<W>(format: LogFormat, default_filter: &str, writer: W) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let (filter, rust_log_error) = filter(default_filter);
    let installed = tracing::subscriber::set_global_default(subscriber(
        format,
        filter,
        writer,
        std::io::stderr().is_terminal(),
    ))
    .is_ok();
    if installed {
        if let Some(error) = rust_log_error {
            tracing::warn!(%error, default = default_filter, "RUST_LOG is not a valid filter; using the default");
        }
    }
    installed
}

/// [`init`] writing to stderr.
pub fn init_stderr(format: LogFormat, default_filter: &str) -> bool {
    init(format, default_filter, std::io::stderr)
}

/// The span under which everything about one source is logged: every line logged inside it
/// carries `source=<name>` (text) or `"span": {"name": "source", "source": "<name>"}` (JSON).
/// The span is at `error` level so that it stays enabled under any level filter (e.g.
/// `RUST_LOG=warn` still tags warnings with their source).
///
/// ```ignore
/// let span = logging::source_span(&config.name);
/// pipeline.run(..).instrument(span).await
/// ```
pub fn source_span(name: &str) -> tracing::Span {
    tracing::error_span!("source", source = %name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer collecting everything into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn capture(format: LogFormat, filter: &str, log: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(format, EnvFilter::new(filter), buffer.clone(), false);
        tracing::subscriber::with_default(subscriber, log);
        buffer.text()
    }

    #[test]
    fn json_lines_carry_level_target_fields_and_the_source_span() {
        let text = capture(LogFormat::Json, "info", || {
            tracing::info!(events = 42_u64, "page written");
            let span = source_span("prod");
            let _entered = span.enter();
            tracing::warn!(status = 503_u64, "retrying");
            tracing::debug!("filtered out");
        });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");

        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["target"], "oktaflow::logging::tests");
        assert_eq!(lines[0]["fields"]["message"], "page written");
        assert_eq!(lines[0]["fields"]["events"], 42);
        assert!(lines[0]["timestamp"].is_string());
        assert!(lines[0].get("span").is_none());

        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["fields"]["status"], 503);
        assert_eq!(lines[1]["span"]["name"], "source");
        assert_eq!(lines[1]["span"]["source"], "prod");
        assert_eq!(lines[1]["spans"][0]["source"], "prod");
    }

    #[test]
    fn text_lines_are_plain_and_name_the_source() {
        let text = capture(LogFormat::Text, "info", || {
            let span = source_span("dev");
            let _entered = span.enter();
            tracing::info!(events = 7_u64, "caught up");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(" INFO "), "{text}");
        assert!(text.contains("source{source=dev}"), "{text}");
        assert!(text.contains("caught up events=7"), "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "no colours when ansi is off: {text}"
        );
    }

    #[test]
    fn the_source_tag_survives_a_warn_filter() {
        let text = capture(LogFormat::Json, "warn", || {
            let span = source_span("eu");
            let _entered = span.enter();
            tracing::warn!("slow answer");
        });
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["source"], "eu", "{text}");
    }

    #[test]
    fn levels_follow_the_filter() {
        let text = capture(LogFormat::Json, "warn,oktaflow::logging=debug", || {
            tracing::debug!("shown: this module is at debug");
            tracing::trace!("hidden");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("shown"), "{text}");
    }

    #[test]
    fn configured_secrets_never_reach_a_log_line() {
        let token = oktaflow_plumbing::Secret::new("00logScrubTestTokenabcdefghijkmnopqrstuvwx");
        for format in [LogFormat::Text, LogFormat::Json] {
            let text = capture(format, "info", || {
                let body = format!("errorSummary: SSWS {}", token.expose());
                tracing::warn!(error = %body, "halted");
                tracing::info!("{}", token.expose());
            });
            assert_eq!(text.lines().count(), 2, "{text}");
            assert!(!text.contains(token.expose()), "{format:?}: {text}");
            assert_eq!(text.matches("[REDACTED]").count(), 2, "{text}");
        }
    }

    #[test]
    fn format_defaults_to_text() {
        assert_eq!(LogFormat::default(), LogFormat::Text);
        assert_eq!(format(), LogFormat::Text);
    }
}
