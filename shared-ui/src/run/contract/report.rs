//! A contract check's result: one line per check ([`Check`]), gathered in a [`Report`] that
//! prints as `shell check` shows it. Below both the basic checks (`super::check`) and the
//! strict ones (`super::strict`), which each add to one report.

use std::fmt;

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`GET /fragments/plans: x-fragment-version`).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, or what was seen.
    pub detail: String,
}

/// Every check run against one server.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The server checked.
    pub base: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    pub(super) fn record(
        &mut self,
        name: impl Into<String>,
        result: Result<String, String>,
    ) -> bool {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
        passed
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Contract check of {}", self.base)?;
        for c in &self.checks {
            let mark = if c.passed { "✔" } else { "✘" };
            if c.detail.is_empty() {
                writeln!(f, "  {mark} {}", c.name)?;
            } else {
                writeln!(f, "  {mark} {}: {}", c.name, c.detail)?;
            }
        }
        let failed = self.failures().count();
        if failed == 0 {
            write!(f, "All {} checks passed.", self.checks.len())
        } else {
            write!(f, "{failed} of {} checks failed.", self.checks.len())
        }
    }
}

pub(super) fn header_text(
    res: &reqwest::Response,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
