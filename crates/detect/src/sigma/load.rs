//! Reading Sigma rule files and folders, and the test cases kept beside them: the only file
//! I/O of this crate, kept here so the rest stays pure.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::DetectError;
use crate::sigma::cases::{run_cases, CaseFile, CaseOutcome};
use crate::sigma::SigmaRules;

/// The test cases of rule file `X.yml` are in `X` + this suffix beside it.
pub const CASES_SUFFIX: &str = ".tests.json";

impl SigmaRules {
    /// Reads every rule of `paths`: a file is read as is (whatever its extension), a folder
    /// for every `.yml` / `.yaml` file under it (recursively, in path order). Files are read
    /// in order; the whole set is then checked (correlations name rules that exist).
    pub fn load(paths: &[PathBuf]) -> Result<SigmaRules, DetectError> {
        let mut rules = SigmaRules::default();
        for path in paths {
            for file in find_rule_files(path)? {
                let text = fs::read_to_string(&file).map_err(|error| DetectError::RuleFile {
                    path: file.clone(),
                    error,
                })?;
                rules.add_yaml(&file.display().to_string(), &text)?;
            }
        }
        rules.check()?;
        Ok(rules)
    }
}

/// The rule files `path` names: itself if it is a file, else every `.yml` / `.yaml` file
/// under it, sorted by path.
pub fn find_rule_files(path: &Path) -> Result<Vec<PathBuf>, DetectError> {
    let io = |error| DetectError::RuleFile {
        path: path.to_owned(),
        error,
    };
    if !fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(|error| DetectError::RuleFile {
            path: dir.clone(),
            error,
        })?;
        for entry in entries {
            let entry = entry.map_err(|error| DetectError::RuleFile {
                path: dir.clone(),
                error,
            })?;
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The test-case file of rule file `rule`: `X.yml` → `X.tests.json`.
pub fn cases_path(rule: &Path) -> PathBuf {
    let stem = rule.file_stem().map_or_else(
        || rule.as_os_str().to_owned(),
        std::ffi::OsStr::to_os_string,
    );
    let mut name = stem;
    name.push(CASES_SUFFIX);
    rule.with_file_name(name)
}

/// Loads the rules under `dir` and runs the test cases beside each rule file
/// (`oktaflow rules test DIR`). A rule file without a case file gives one failed outcome
/// (`no test cases`). Errors are the rule set's (a rule that does not load) or a case file
/// that cannot be read or is not in the format of [`CaseFile`].
pub fn test_rules_dir(dir: &Path) -> Result<Vec<CaseOutcome>, DetectError> {
    let rules = SigmaRules::load(&[dir.to_owned()])?;
    let mut outcomes = Vec::new();
    for source in rules.sources() {
        let rule_path = PathBuf::from(&source.name);
        let path = cases_path(&rule_path);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                outcomes.push(CaseOutcome::missing(&source.name, &path));
                continue;
            }
            Err(error) => return Err(DetectError::RuleFile { path, error }),
        };
        let file = CaseFile::from_json(&text).map_err(|reason| DetectError::Sigma {
            origin: path.display().to_string(),
            reason,
        })?;
        outcomes.extend(run_cases(
            &rules,
            &source.rule_ids,
            &file,
            &path.display().to_string(),
        ));
    }
    Ok(outcomes)
}
