//! Proptest seeds read from the committed `*.proptest-regressions` files and
//! never written by a test run.
//!
//! proptest's default persistence appends the seed of every new failure to
//! the regressions file next to the test source: a tracked file would change
//! and every later run would replay that failure. [`committed_seeds`] replays
//! the committed seeds first, as proptest does, but only prints a new failure's
//! seed. To keep a failure as a regression case, copy the printed `cc ...`
//! line into the test's regressions file (e.g.
//! `crates/normalize/tests/mapping.proptest-regressions`), fix the cause, and
//! commit both.

use std::any::Any;
use std::fmt;

use proptest::test_runner::{FailurePersistence, FileFailurePersistence, PersistedSeed};

/// Loads the seeds of `<test>.proptest-regressions` beside the test source;
/// prints new failures instead of saving them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommittedSeeds;

/// The persistence to put in a test's `ProptestConfig::failure_persistence`.
pub fn committed_seeds() -> Option<Box<dyn FailurePersistence>> {
    Some(Box::new(CommittedSeeds))
}

/// The number of cases of a property test: `default`, or `OKTAFLOW_PROPTEST_CASES` when set
/// (to hunt for failures with many more cases than a test run affords, e.g.
/// `OKTAFLOW_PROPTEST_CASES=20000 cargo test --release -p oktaflow-normalize --test
/// ocsf_properties`).
pub fn cases(default: u32) -> u32 {
    std::env::var("OKTAFLOW_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where proptest keeps the regressions of `tests/NAME.rs` by default:
/// `tests/NAME.proptest-regressions`.
fn file() -> FileFailurePersistence {
    FileFailurePersistence::WithSource("proptest-regressions")
}

impl FailurePersistence for CommittedSeeds {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        file().load_persisted_failures2(source_file)
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn fmt::Debug,
    ) {
        eprintln!(
            "proptest: a new failure in {}; to keep it as a regression case, add this line to \
             the test's .proptest-regressions file (not written by test runs):\n{seed} # shrinks to {shrunken_value:?}",
            source_file.unwrap_or("?"),
        );
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<Self>().is_some()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
