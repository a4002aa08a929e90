//! Validation: the overlaid JSON Schema plus ccscope's semantic rules. Every finding carries a
//! JSON pointer and a plain message; errors block a write, warnings inform.

use serde_json::Value;

pub use crate::issue::{Issue, Report, Scope, Severity, pointer_token};
use crate::rules;
use crate::schema;

/// A settings text that is not JSON.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("not valid JSON at line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Largest settings document accepted: the settings helper refuses anything larger, so
/// validation does too.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Parses settings text (strict JSON: what Claude Code reads). A byte order mark is an error
/// of its own: Claude Code's parser rejects it, and "expected value at 1:1" would not say why.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    if text.starts_with('\u{feff}') {
        return Err(ParseError {
            line: 1,
            column: 1,
            message: "the file starts with a UTF-8 byte order mark (BOM), which Claude Code's JSON parser rejects: save it as UTF-8 without a BOM".into(),
        });
    }
    serde_json::from_str(text).map_err(|e| ParseError {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// Parses the bytes of a settings file as Claude Code would, refusing what the helper
/// refuses (over `MAX_DOCUMENT_BYTES`, not UTF-8); returns the document and a warning for
/// every key that appears twice in one object (JSON parsers keep the last one silently).
pub fn parse_bytes(bytes: &[u8]) -> Result<(Value, Vec<Issue>), ParseError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError {
            line: 1,
            column: 1,
            message: format!(
                "the document is {} bytes, more than the {MAX_DOCUMENT_BYTES} bytes (1 MiB) managed settings may have; the settings helper refuses it",
                bytes.len()
            ),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        ParseError {
            line,
            column,
            message: format!(
                "the file is not valid UTF-8 (byte {} is not); Claude Code reads settings as UTF-8",
                e.valid_up_to()
            ),
        }
    })?;
    let doc = parse(text)?;
    Ok((doc, duplicate_keys(text)))
}

/// A warning for every key that appears more than once in the same object of `text` (which
/// must be valid JSON).
pub fn duplicate_keys(text: &str) -> Vec<Issue> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let _ = serde::de::DeserializeSeed::deserialize(
        DuplicateSeed {
            pointer: String::new(),
            found: &mut found,
        },
        &mut deserializer,
    );
    found
}

/// Walks a JSON value, noting repeated keys with their pointers.
struct DuplicateSeed<'a> {
    pointer: String,
    found: &'a mut Vec<Issue>,
}

impl<'de> serde::de::DeserializeSeed<'de> for DuplicateSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DuplicateSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let pointer = format!("{}/{}", self.pointer, pointer_token(&key));
            if !seen.insert(key.clone()) {
                self.found.push(Issue::warning(
                    pointer.clone(),
                    format!("{key:?} appears more than once in this object: only its last value counts (and only it is written)"),
                ));
            }
            map.next_value_seed(DuplicateSeed {
                pointer,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while seq
            .next_element_seed(DuplicateSeed {
                pointer: format!("{}/{index}", self.pointer),
                found: &mut *self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
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
    report.dedup();
    // A rule with a precise complaint does not also need the generic pattern message.
    let precise: std::collections::HashSet<String> = report
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
