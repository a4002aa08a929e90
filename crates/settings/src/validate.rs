//! Validation: the overlaid JSON Schema plus ccscope's semantic rules. Every finding carries a
//! JSON pointer and a plain message; errors block a write, warnings inform.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules;
use crate::schema;

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

    pub fn push(&mut self, issue: Issue) {
        let list = match issue.severity {
            Severity::Error => &mut self.errors,
            Severity::Warning => &mut self.warnings,
        };
        if !list.contains(&issue) {
            list.push(issue);
        }
    }
}

/// A settings text that is not JSON.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("not valid JSON at line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses settings text (strict JSON: what Claude Code reads).
pub fn parse(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

const GENERIC_RULE_MESSAGE: &str = "is not Tool, Tool(specifier) or mcp__server[__tool] with a tool Claude Code knows (Bash, Read, Edit, Write, WebFetch, …)";

/// Longest instance text quoted in a schema message before it is summarised.
const MAX_QUOTED_INSTANCE: usize = 80;

/// Validates a parsed document for `scope`.
pub fn validate(doc: &Value, scope: Scope) -> Report {
    let mut report = Report::default();
    if !doc.is_object() {
        report.push(Issue::error(
            "",
            "a settings file must be a JSON object ({ … }) at the top level",
        ));
        return report;
    }
    match schema::validator() {
        Ok(validator) => {
            for error in validator.iter_errors(doc) {
                let schema_path = error.schema_path().as_str().to_owned();
                let pointer = error.instance_path().as_str().to_owned();
                if schema_path.contains("propertyNames") && pointer == "/env" {
                    continue; // env names get a precise message from the rules
                }
                if is_permission_rule_pointer(&pointer) && schema_path.ends_with("/pattern") {
                    let rule = error.instance().as_str().unwrap_or_default().to_owned();
                    report.push(Issue::error(
                        pointer,
                        format!("rule {rule:?} {GENERIC_RULE_MESSAGE}"),
                    ));
                    continue;
                }
                let quoted = serde_json::to_string(error.instance().as_ref())
                    .map(|s| s.len())
                    .unwrap_or(0);
                let message = if quoted <= MAX_QUOTED_INSTANCE {
                    error.to_string()
                } else {
                    error.masked().to_string()
                };
                report.push(Issue::error(pointer, message));
            }
        }
        Err(why) => report.push(Issue::error(
            "",
            format!("the settings schema failed to load: {why}"),
        )),
    }
    rules::annotate_consequences(&mut report, scope, true);
    rules::check(doc, scope, &mut report);
    rules::annotate_consequences(&mut report, scope, false);
    // A rule with a precise complaint does not also need the generic pattern message.
    let precise: Vec<String> = report
        .errors
        .iter()
        .filter(|e| {
            is_permission_rule_pointer(&e.pointer) && !e.message.contains(GENERIC_RULE_MESSAGE)
        })
        .map(|e| e.pointer.clone())
        .collect();
    report
        .errors
        .retain(|e| !(e.message.contains(GENERIC_RULE_MESSAGE) && precise.contains(&e.pointer)));
    report.errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    report.warnings.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    report
}

fn is_permission_rule_pointer(pointer: &str) -> bool {
    let mut parts = pointer.split('/');
    parts.next() == Some("")
        && parts.next() == Some("permissions")
        && matches!(parts.next(), Some("allow" | "ask" | "deny"))
        && parts.next().is_some_and(|i| i.parse::<usize>().is_ok())
        && parts.next().is_none()
}

/// Escapes one reference token of a JSON pointer.
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
