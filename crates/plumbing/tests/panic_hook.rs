//! The panic hook scrubs secrets (issue 15, point 2): the test runs itself again as a child
//! process that installs the hook and panics with a message quoting a secret.

use std::process::Command;

/// Set in the child: panic instead of checking.
const CHILD: &str = "OKTAFLOW_PANIC_HOOK_TEST_CHILD";
const TOKEN: &str = "00panicHookTokenQQQQQQQQQQQQQQQQQQQQQQQQQ";

#[test]
fn a_panic_message_never_shows_a_configured_secret() {
    if std::env::var_os(CHILD).is_some() {
        oktaflow_plumbing::install_panic_hook();
        let token = oktaflow_plumbing::Secret::new(TOKEN);
        panic!("server said: SSWS {} is invalid", token.expose());
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_panic_message_never_shows_a_configured_secret",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("child runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the child panicked: {stderr}");
    assert!(
        stderr.contains("panicked at crates/plumbing/tests/panic_hook.rs:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("server said: SSWS [REDACTED] is invalid"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
}
