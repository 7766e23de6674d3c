//! Opaque `after` cursors.
//!
//! A cursor is base64url (no padding) of a small binary record plus a salted
//! checksum, so clients cannot forge or edit one; the simulator rejects any cursor
//! it did not issue (with the same seed) with a 400. Clients must treat cursors as
//! opaque strings and simply follow `Link: rel="next"`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// Polling mode: index into the visibility order, plus the original `since` filter.
    Polling {
        /// Number of visible events already passed.
        position: u64,
        /// `published >= since` filter, epoch milliseconds.
        since_ms: i64,
    },
    /// Bounded mode: the `(published, uuid)` key of the last event returned.
    Bounded {
        /// `published` of the last event returned, epoch milliseconds.
        published_ms: i64,
        /// `uuid` of the last event returned.
        uuid: String,
    },
}

/// Encodes and verifies cursors with a per-simulator salt.
#[derive(Clone, Debug)]
pub(crate) struct CursorCodec {
    salt: u64,
}

fn checksum(salt: u64, payload: &[u8]) -> u64 {
    // FNV-1a over salt + payload: stable across Rust versions and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.to_le_bytes().iter().chain(payload) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl CursorCodec {
    /// A codec whose cursors only this salt accepts.
    pub(crate) fn new(salt: u64) -> Self {
        CursorCodec { salt }
    }

    /// The opaque text of `cursor`.
    pub(crate) fn encode(&self, cursor: &Cursor) -> String {
        let mut payload = Vec::with_capacity(64);
        match cursor {
            Cursor::Polling { position, since_ms } => {
                payload.push(b'P');
                payload.extend_from_slice(&position.to_le_bytes());
                payload.extend_from_slice(&since_ms.to_le_bytes());
            }
            Cursor::Bounded { published_ms, uuid } => {
                payload.push(b'B');
                payload.extend_from_slice(&published_ms.to_le_bytes());
                payload.extend_from_slice(uuid.as_bytes());
            }
        }
        let check = checksum(self.salt, &payload);
        payload.extend_from_slice(&check.to_le_bytes());
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The cursor `text` encodes, or `None` if it is malformed or was not issued by this codec.
    pub(crate) fn decode(&self, text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() < 9 {
            return None;
        }
        let (payload, check) = bytes.split_at(bytes.len() - 8);
        if checksum(self.salt, payload).to_le_bytes() != check {
            return None;
        }
        let (&tag, rest) = payload.split_first()?;
        let read_i64 = |b: &[u8]| -> Option<i64> { Some(i64::from_le_bytes(b.try_into().ok()?)) };
        match tag {
            b'P' if rest.len() == 16 => Some(Cursor::Polling {
                position: u64::from_le_bytes(rest[..8].try_into().ok()?),
                since_ms: read_i64(&rest[8..])?,
            }),
            b'B' if rest.len() > 8 => Some(Cursor::Bounded {
                published_ms: read_i64(&rest[..8])?,
                uuid: String::from_utf8(rest[8..].to_vec()).ok()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_forged_or_foreign_cursors() {
        let codec = CursorCodec::new(99);
        for cursor in [
            Cursor::Polling {
                position: 12345,
                since_ms: -5,
            },
            Cursor::Bounded {
                published_ms: 1_700_000_000_123,
                uuid: "0a1b-uuid".to_string(),
            },
        ] {
            let text = codec.encode(&cursor);
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(codec.decode(&text), Some(cursor));
            assert_eq!(CursorCodec::new(100).decode(&text), None, "other salt");
            let mut forged = text.into_bytes();
            forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
            assert_eq!(
                codec.decode(&String::from_utf8(forged).expect("ascii")),
                None
            );
        }
        assert_eq!(codec.decode("not a cursor!"), None);
        assert_eq!(codec.decode(""), None);
    }
}
