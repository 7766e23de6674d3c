//! Settings shared by the network sinks: [`SinkConfigError`], TLS and batching.

use std::path::{Path, PathBuf};

/// A sink configuration that cannot be used. Messages name the setting and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkConfigError {
    /// A setting has a value that cannot work.
    #[error("{key}: {reason}")]
    Invalid {
        /// The setting, e.g. `url` or `max_docs`.
        key: &'static str,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// A secret could not be read from its environment variable or file.
    #[error("{key}: {reason}")]
    Secret {
        /// The secret's setting, e.g. `password`.
        key: &'static str,
        /// Why it could not be read (never the value).
        reason: String,
    },
    /// A TLS file could not be read or used.
    #[error("{key}: {reason}")]
    Tls {
        /// The setting, e.g. `tls_ca_file`.
        key: &'static str,
        /// Why it could not be used.
        reason: String,
    },
    /// Options given in a sink spec's URL query cannot be parsed.
    #[error("options of sink spec \"{spec}\": {reason}")]
    Query {
        /// The spec, without its query.
        spec: String,
        /// The parser's message (names the option).
        reason: String,
    },
}

impl SinkConfigError {
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> SinkConfigError {
        SinkConfigError::Invalid {
            key,
            reason: reason.into(),
        }
    }
}

impl From<SinkConfigError> for std::io::Error {
    /// For [`SinkSpec::build`](crate::SinkSpec::build), which reports `io::Error`s:
    /// kind `InvalidInput`, the message is the configuration error's.
    fn from(error: SinkConfigError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

/// TLS settings of a network sink (the `tls_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM bundle), added to the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    pub key_file: Option<PathBuf>,
    /// Verify the server certificate (turning it off is for labs only).
    pub verify_certificate: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_certificate: true,
        }
    }
}

impl TlsOptions {
    /// Applies these settings to a `reqwest` client builder, reading the files.
    pub(crate) fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, SinkConfigError> {
        if let Some(path) = &self.ca_file {
            let pem = read(path, "tls_ca_file")?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SinkConfigError::Tls {
                    key: "tls_ca_file",
                    reason: format!("{} is not a PEM certificate bundle ({e})", path.display()),
                })?;
            if certs.is_empty() {
                return Err(SinkConfigError::Tls {
                    key: "tls_ca_file",
                    reason: format!("{} holds no certificate", path.display()),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert, "tls_cert_file")?;
                pem.push(b'\n');
                pem.extend_from_slice(&read(key, "tls_key_file")?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|_| SinkConfigError::Tls {
                        key: "tls_cert_file",
                        reason: "cannot use the client certificate and key (expected a PEM \
                                 certificate and a PKCS#8, RSA or EC key)"
                            .into(),
                    })?;
                builder = builder.identity(identity);
            }
            (Some(_), None) => {
                return Err(SinkConfigError::invalid(
                    "tls_cert_file",
                    "needs tls_key_file too",
                ))
            }
            (None, Some(_)) => {
                return Err(SinkConfigError::invalid(
                    "tls_key_file",
                    "needs tls_cert_file too",
                ))
            }
            (None, None) => {}
        }
        if !self.verify_certificate {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, SinkConfigError> {
    std::fs::read(path).map_err(|e| SinkConfigError::Tls {
        key,
        reason: format!("cannot read {}: {e}", path.display()),
    })
}

/// A batch size in documents and bytes: how a network sink cuts a batch into requests, and
/// the batch a sink prefers ([`Sink::preferred_batch`](crate::Sink::preferred_batch)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// At most this many documents per request.
    pub max_docs: usize,
    /// At most about this many bytes of (uncompressed) body per request; a single
    /// larger document still goes alone.
    pub max_bytes: usize,
}

impl BatchLimits {
    /// The batch a sink prefers unless it says otherwise ([`Sink::preferred_batch`](crate::Sink::preferred_batch)):
    /// 3,000 documents or 8 MB, small enough that a batch is durable soon after its pages
    /// arrive, large enough that a backfill pays one round of fsyncs for several pages.
    pub const DEFAULT_PREFERRED: BatchLimits = BatchLimits {
        max_docs: 3_000,
        max_bytes: 8_000_000,
    };

    /// Checks that both limits are positive.
    pub(crate) fn validate(&self) -> Result<(), SinkConfigError> {
        if self.max_docs == 0 {
            return Err(SinkConfigError::invalid("max_docs", "must be at least 1"));
        }
        if self.max_bytes < 1024 {
            return Err(SinkConfigError::invalid(
                "max_bytes",
                "must be at least 1024",
            ));
        }
        Ok(())
    }

    /// Splits `sizes` (the encoded size of each item, in order) into consecutive
    /// ranges within the limits.
    pub(crate) fn chunks(
        &self,
        sizes: impl IntoIterator<Item = usize>,
    ) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let (mut start, mut docs, mut bytes) = (0, 0, 0);
        let mut end = 0;
        for size in sizes {
            if docs > 0 && (docs == self.max_docs || bytes + size > self.max_bytes) {
                ranges.push(start..end);
                start = end;
                docs = 0;
                bytes = 0;
            }
            docs += 1;
            bytes += size;
            end += 1;
        }
        if docs > 0 {
            ranges.push(start..end);
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes_and_keep_order() {
        let limits = BatchLimits {
            max_docs: 3,
            max_bytes: 2000,
        };
        assert_eq!(limits.chunks([]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(limits.chunks([10; 7]), vec![0..3, 3..6, 6..7]);
        // A document larger than max_bytes travels alone.
        assert_eq!(limits.chunks([900, 900, 5000, 10]), vec![0..2, 2..3, 3..4]);
    }

    #[test]
    fn tls_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("ca.pem");
        std::fs::write(&bogus, "not a certificate").unwrap();
        let tls = TlsOptions {
            ca_file: Some(bogus),
            ..TlsOptions::default()
        };
        let err = tls.apply(reqwest::Client::builder()).unwrap_err();
        assert!(err.to_string().starts_with("tls_ca_file: "), "{err}");
        let tls = TlsOptions {
            cert_file: Some(dir.path().join("c.pem")),
            ..TlsOptions::default()
        };
        let err = tls.apply(reqwest::Client::builder()).unwrap_err();
        assert_eq!(err.to_string(), "tls_cert_file: needs tls_key_file too");
    }
}
