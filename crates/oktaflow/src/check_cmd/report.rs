//! The result table of `oktaflow check`: one row per check, printed aligned.

use std::fmt;
use std::io::{self, Write};

use oktaflow_plumbing::scrub;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The check passed.
    Ok,
    /// The check failed; the detail says why and what to fix.
    Fail,
    /// The check was not run (an earlier one failed, or there is nothing to check).
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "OK",
            Status::Fail => "FAIL",
            Status::Skipped => "-",
        })
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What was checked: `config`, `state_dir`, `source prod`, `sink file:/x`.
    pub subject: String,
    /// Which check: `schema`, `values`, `resolve`, `connect`, `system log`, `writable`.
    pub check: &'static str,
    /// The outcome.
    pub status: Status,
    /// One line: what was found, or what is wrong and how to fix it.
    pub detail: String,
}

impl Row {
    /// A row with the given outcome; no configured secret is kept in its text (a failed
    /// check may quote a server's answer).
    pub fn new(
        subject: impl Into<String>,
        check: &'static str,
        status: Status,
        detail: impl Into<String>,
    ) -> Row {
        Row {
            subject: scrub(&subject.into()).into_owned(),
            check,
            status,
            detail: scrub(&one_line(&detail.into())).into_owned(),
        }
    }

    /// A passed check.
    pub fn ok(subject: impl Into<String>, check: &'static str, detail: impl Into<String>) -> Row {
        Row::new(subject, check, Status::Ok, detail)
    }

    /// A failed check.
    pub fn fail(subject: impl Into<String>, check: &'static str, detail: impl Into<String>) -> Row {
        Row::new(subject, check, Status::Fail, detail)
    }

    /// A check that was not run.
    pub fn skipped(
        subject: impl Into<String>,
        check: &'static str,
        detail: impl Into<String>,
    ) -> Row {
        Row::new(subject, check, Status::Skipped, detail)
    }
}

/// All rows, in the order the checks ran.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// Appends a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Appends several rows.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = Row>) {
        self.rows.extend(rows);
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .count()
    }

    /// Writes the table and a closing summary line.
    pub fn render(&self, out: &mut dyn Write) -> io::Result<()> {
        let header = ["SUBJECT", "CHECK", "RESULT"];
        let width = |column: usize, cell: fn(&Row) -> String| {
            self.rows
                .iter()
                .map(|r| cell(r).chars().count())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        };
        let widths = [
            width(0, |r| r.subject.clone()),
            width(1, |r| r.check.to_string()),
            width(2, |r| r.status.to_string()),
        ];
        let line = |out: &mut dyn Write, cells: [&str; 4]| {
            writeln!(
                out,
                "{:<w0$}  {:<w1$}  {:<w2$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            )
        };
        line(out, [header[0], header[1], header[2], "DETAIL"])?;
        for row in &self.rows {
            let status = row.status.to_string();
            line(out, [&row.subject, row.check, &status, &row.detail])?;
        }
        let failures = self.failures();
        let passed = self.rows.iter().filter(|r| r.status == Status::Ok).count();
        if failures == 0 {
            writeln!(out, "\nall {passed} checks passed")
        } else {
            writeln!(
                out,
                "\n{failures} check{} failed, {passed} passed",
                if failures == 1 { "" } else { "s" }
            )
        }
    }
}

/// `text` with every run of whitespace (newlines included) replaced by one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_secret_is_never_shown() {
        let token = oktaflow_plumbing::Secret::new("00checkScrubTokenYYYYYYYYYYYYYYYYYYYYYY");
        let detail = format!("HTTP 403: SSWS {}", token.expose());
        let row = Row::fail("source prod", "system log", detail);
        assert_eq!(row.detail, "HTTP 403: SSWS [REDACTED]");
    }

    #[test]
    fn table_is_aligned_and_counts_failures() {
        let mut report = Report::default();
        report.push(Row::ok("config", "schema", "oktaflow.toml"));
        report.push(Row::fail(
            "source prod",
            "system log",
            "authentication failed\nfor acme",
        ));
        report.push(Row::skipped("sink http:x", "reachable", "not checked"));
        assert_eq!(report.failures(), 1);
        let mut out = Vec::new();
        report.render(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "SUBJECT      CHECK       RESULT  DETAIL",
            "{text}"
        );
        assert_eq!(lines[1], "config       schema      OK      oktaflow.toml");
        assert_eq!(
            lines[2],
            "source prod  system log  FAIL    authentication failed for acme"
        );
        assert_eq!(lines[3], "sink http:x  reachable   -       not checked");
        assert_eq!(lines[5], "1 check failed, 1 passed");
    }

    #[test]
    fn all_passed_summary() {
        let mut report = Report::default();
        report.extend([Row::ok("a", "b", "c"), Row::ok("d", "e", "f")]);
        let mut out = Vec::new();
        report.render(&mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("\nall 2 checks passed\n"));
    }
}
