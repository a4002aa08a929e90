//! A validation finding and its report: shared by `validate` and `rules` (in a module of its
//! own, so that neither imports the other).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Which settings level a document is meant for: some keys only count in some levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Managed,
    User,
    Project,
    Local,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub severity: Severity,
    /// JSON pointer (RFC 6901) of the value concerned; `""` is the whole document.
    pub pointer: String,
    pub message: String,
    /// What Claude Code does with this value when it is invalid, when that is not simply
    /// "the key is dropped" (the fail-closed and fail-open keys of reference §9.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequence: Option<String>,
}

impl Issue {
    pub fn error(pointer: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            pointer: pointer.into(),
            message: message.into(),
            consequence: None,
        }
    }

    pub fn warning(pointer: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Warning,
            pointer: pointer.into(),
            message: message.into(),
            consequence: None,
        }
    }
}

/// The outcome of validating one document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Adds a finding. The same finding twice is kept once (see `dedup`, which `validate`
    /// runs once at the end: checking on every push made validation quadratic).
    pub fn push(&mut self, issue: Issue) {
        match issue.severity {
            Severity::Error => self.errors.push(issue),
            Severity::Warning => self.warnings.push(issue),
        }
    }

    /// Drops repeated findings, keeping the first of each, in linear time.
    pub fn dedup(&mut self) {
        for list in [&mut self.errors, &mut self.warnings] {
            let mut seen = std::collections::HashSet::new();
            list.retain(|issue| seen.insert((issue.pointer.clone(), issue.message.clone())));
        }
    }
}

/// Escapes one reference token of a JSON pointer.
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
