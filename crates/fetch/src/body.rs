//! Reading a response body within a cap ([`ClientConfig::max_response_body`]), enforced while
//! the body streams in, so an endless or absurd body never holds more than the cap in memory.
//!
//! [`ClientConfig::max_response_body`]: crate::ClientConfig::max_response_body

use bytes::{Bytes, BytesMut};

/// How many times one request may get a body over the cap before the source halts. Each one
/// is retried like a truncated body first: a proxy or load balancer glitch passes, a server
/// that really sends such bodies does not.
pub(crate) const OVER_CAP_ATTEMPTS: u32 = 3;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body (announced or received so far) is larger than the cap.
    OverCap,
    /// The transfer failed (reset, timeout, truncated).
    Read(reqwest::Error),
}

/// Reads the whole body chunk by chunk, stopping as soon as more than `cap` bytes have
/// arrived (or at once when `Content-Length` already says so). Holds at most `cap` bytes plus
/// one chunk.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Bytes, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > cap) {
        return Err(BodyError::OverCap);
    }
    let capacity = announced.unwrap_or(0).min(cap).min(8 * 1024 * 1024);
    let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::OverCap);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A byte count for messages: `64 MiB`, `1.5 MiB`, `512 KiB` or `1000 bytes`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    let (unit, name) = match bytes {
        b if b >= GIB => (GIB, "GiB"),
        b if b >= MIB => (MIB, "MiB"),
        b if b >= KIB => (KIB, "KiB"),
        _ => return format!("{bytes} bytes"),
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(human_bytes(1024 * 1024 + 512 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(512 * 1024), "512 KiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2 GiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
