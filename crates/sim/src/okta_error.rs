//! Okta's JSON error bodies (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::generate_ids::base62_id;

/// Okta error codes the simulator answers with.
pub(crate) mod codes {
    /// 400 API validation failed.
    pub(crate) const VALIDATION: &str = "E0000001";
    /// 403 missing permission (or scope).
    pub(crate) const FORBIDDEN: &str = "E0000006";
    /// 404 resource not found.
    pub(crate) const NOT_FOUND: &str = "E0000007";
    /// 500 internal server error.
    pub(crate) const INTERNAL: &str = "E0000009";
    /// 401 invalid token.
    pub(crate) const INVALID_TOKEN: &str = "E0000011";
    /// 400 invalid date.
    pub(crate) const INVALID_DATE: &str = "E0000030";
    /// 429 rate limit exceeded.
    pub(crate) const RATE_LIMIT: &str = "E0000047";
    /// 503 service unavailable.
    pub(crate) const UNAVAILABLE: &str = "E0000010";
}

static ERROR_COUNTER: AtomicU64 = AtomicU64::new(1);

/// An Okta error body with a fresh `errorId`.
pub(crate) fn error_body(code: &str, summary: &str, causes: &[String]) -> String {
    let n = ERROR_COUNTER.fetch_add(1, Ordering::Relaxed);
    let body = serde_json::json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", base62_id(n, 22)),
        "errorCauses": causes.iter().map(|c| serde_json::json!({"errorSummary": c})).collect::<Vec<_>>(),
    });
    body.to_string()
}
