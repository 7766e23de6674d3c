//! Checks of what lives on this host: the state directory and the sinks
//! ([`oktaflow_pipeline::preflight`]). Nothing is created or written.

use std::path::Path;

use oktaflow_pipeline::preflight;

use crate::config::SinkSpec;

use super::report::Row;

/// A row of the `writable` check from a preflight answer.
fn writable_row(subject: String, answer: Result<String, String>) -> Row {
    match answer {
        Ok(detail) => Row::ok(subject, "writable", detail),
        Err(detail) => Row::fail(subject, "writable", detail),
    }
}

/// Checks that the state directory exists and is writable, or that `run` could create it.
pub fn check_state_dir(dir: &Path) -> Row {
    writable_row(
        format!("state_dir {}", dir.display()),
        preflight::state_dir_writable(dir),
    )
}

/// Checks one sink without writing to it.
pub fn check_sink(sink: &SinkSpec) -> Row {
    let subject = format!("sink {sink}");
    #[allow(unreachable_patterns)] // sink kinds added later are reported as not checked
    match sink {
        SinkSpec::Stdout => Row::ok(subject, "writable", "standard output"),
        SinkSpec::File(file) => writable_row(subject, preflight::file_writable(&file.path)),
        _ => Row::skipped(
            subject,
            "reachable",
            "not checked: no check for this sink kind",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_cmd::report::Status;

    #[test]
    fn state_dir_rows() {
        let dir = tempfile::tempdir().unwrap();
        let row = check_state_dir(dir.path());
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert_eq!(row.detail, "exists and is writable");

        let missing = dir.path().join("a/b/state");
        let row = check_state_dir(&missing);
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert!(row.detail.contains("will create it"), "{row:?}");
        assert!(!missing.exists() && !dir.path().join("a").exists());

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let row = check_state_dir(&file);
        assert_eq!(row.status, Status::Fail);
        assert_eq!(row.detail, "exists but is not a directory");
    }

    #[test]
    fn file_sink_rows() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("out.ndjson");
        let row = check_sink(&SinkSpec::File(new.clone().into()));
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert!(row.detail.starts_with("will be created in "), "{row:?}");
        assert!(!new.exists());

        std::fs::write(&new, "{}\n").unwrap();
        let row = check_sink(&SinkSpec::File(new.clone().into()));
        assert_eq!(row.status, Status::Ok);
        assert_eq!(row.detail, "exists (3 bytes) and is writable");
        assert_eq!(std::fs::read(&new).unwrap(), b"{}\n", "nothing written");

        let row = check_sink(&SinkSpec::File(dir.path().join("nope/out.ndjson").into()));
        assert_eq!(row.status, Status::Fail);
        assert!(
            row.detail.contains("does not exist; create it first"),
            "{row:?}"
        );

        let row = check_sink(&SinkSpec::File(dir.path().to_path_buf().into()));
        assert_eq!(row.status, Status::Fail);

        let row = check_sink(&SinkSpec::Stdout);
        assert_eq!(
            (row.status, row.subject.as_str()),
            (Status::Ok, "sink stdout")
        );
    }
}
