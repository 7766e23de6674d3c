//! Opaque identifiers derived from counters (error ids, access tokens).

use crate::rng::splitmix64;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base-62 characters derived from `n` (distinct `n` give distinct-looking ids).
pub(crate) fn base62_id(n: u64, len: usize) -> String {
    let mut state = n;
    let mut bits = splitmix64(&mut state);
    let mut s = String::with_capacity(len);
    for i in 0..len {
        if i % 10 == 9 {
            bits = splitmix64(&mut state);
        }
        s.push(BASE62[(bits % 62) as usize] as char);
        bits /= 62;
    }
    s
}
