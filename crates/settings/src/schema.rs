//! The settings schema: SchemaStore's `claude-code-settings.json` (draft-07), overlaid with what
//! the Claude Code 2.1.330 binary accepts beyond it (reference §9–§11), compiled once.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const SCHEMASTORE_SCHEMA: &str = include_str!("../data/claude-code-settings.schema.json");
const BINARY_KEYS: &str = include_str!("../data/claude-code-keys.json");

/// One top-level key of the 2.1.330 binary's settings schema (reference §10).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyInfo {
    pub key: String,
    /// The binary's type, as the reference writes it.
    #[serde(rename = "type")]
    pub type_text: String,
    /// Where the docs say the key may be set (`None`: not in the docs' index).
    pub scope: Option<String>,
    /// Whether SchemaStore's schema describes it.
    pub schemastore: bool,
    pub managed_only: bool,
    pub internal: bool,
    pub note: String,
}

#[derive(Deserialize)]
struct KeyFile {
    keys: Vec<KeyInfo>,
}

/// Every key the 2.1.330 binary knows.
pub fn binary_keys() -> &'static [KeyInfo] {
    static KEYS: OnceLock<Vec<KeyInfo>> = OnceLock::new();
    KEYS.get_or_init(|| {
        serde_json::from_str::<KeyFile>(BINARY_KEYS)
            .map(|f| f.keys)
            .unwrap_or_default()
    })
}

pub fn key_info(key: &str) -> Option<&'static KeyInfo> {
    binary_keys().iter().find(|k| k.key == key)
}

/// Environment variables whose schema enum is replaced by ccscope's own rule (which accepts
/// every spelling Claude Code accepts and explains the rest).
pub(crate) const RULE_CHECKED_ENV: &[&str] = &[
    "CLAUDE_CODE_ENABLE_TELEMETRY",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA",
    "CLAUDE_CODE_OTEL_DIAG_STDERR",
    "OTEL_LOG_USER_PROMPTS",
    "OTEL_LOG_ASSISTANT_RESPONSES",
    "OTEL_LOG_TOOL_DETAILS",
    "OTEL_LOG_TOOL_CONTENT",
    "OTEL_METRICS_INCLUDE_SESSION_ID",
    "OTEL_METRICS_INCLUDE_VERSION",
    "OTEL_METRICS_INCLUDE_ACCOUNT_UUID",
    "OTEL_METRICS_INCLUDE_ENTRYPOINT",
    "OTEL_METRICS_INCLUDE_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
];

/// The schema ccscope validates with (SchemaStore + the 2.1.330 overlay).
pub fn overlaid_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema: Value =
            serde_json::from_str(SCHEMASTORE_SCHEMA).unwrap_or_else(|_| json!({"type": "object"}));
        overlay(&mut schema);
        schema
    })
}

/// The compiled validator, or why it could not be built (never expected: the schema is
/// compiled in and covered by tests).
pub(crate) fn validator() -> Result<&'static jsonschema::Validator, &'static str> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| jsonschema::validator_for(overlaid_schema()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| e.as_str())
}

fn object_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut at = value;
    for part in path {
        at = at.get_mut(*part)?;
    }
    at.as_object_mut()
}

fn push_enum(schema: &mut Value, path: &[&str], extra: &str) {
    let mut at = &mut *schema;
    for part in path {
        match at.get_mut(*part) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(values) = at.get_mut("enum").and_then(Value::as_array_mut)
        && !values.iter().any(|v| v == extra)
    {
        values.push(Value::String(extra.to_owned()));
    }
}

fn overlay(schema: &mut Value) {
    // permissions: the binary's object is passthrough and has three keys SchemaStore lacks
    // (unknown sub-keys become warnings from the rules instead of errors).
    if let Some(perms) = object_at(schema, &["properties", "permissions"]) {
        perms.insert("additionalProperties".into(), Value::Bool(true));
    }
    if let Some(props) = object_at(schema, &["properties", "permissions", "properties"]) {
        for key in [
            "blockReadsOutsideWorkingDirectories",
            "blockWritesOutsideWorkingDirectories",
            "denyInsteadOfPrompting",
            "blockFileToolReadsOutsideWorkingDirectories",
            "workingDirectoriesAsGiven",
        ] {
            props
                .entry(key)
                .or_insert_with(|| json!({"type": "boolean"}));
        }
        for key in ["blockReadsExemptPaths", "workingDirectoriesExclude"] {
            props
                .entry(key)
                .or_insert_with(|| json!({"type": "array", "items": {"type": "string"}}));
        }
    }
    push_enum(
        schema,
        &["properties", "permissions", "properties", "defaultMode"],
        "manual",
    );
    // hooks: two events newer than SchemaStore's snapshot.
    if let Some(hooks) = object_at(schema, &["properties", "hooks", "properties"]) {
        let template = hooks
            .get("PreToolUse")
            .cloned()
            .unwrap_or_else(|| json!({"type": "array"}));
        for event in ["PreModelSwitch", "PostModelSwitch"] {
            hooks.entry(event).or_insert_with(|| template.clone());
        }
    }
    push_enum(schema, &["properties", "autoUpdatesChannel"], "rc");
    // env: the telemetry switches are checked by ccscope's rules with Claude Code's own parsing.
    if let Some(env) = object_at(schema, &["properties", "env", "properties"]) {
        for var in RULE_CHECKED_ENV {
            if let Some(prop) = env.get_mut(*var).and_then(Value::as_object_mut) {
                prop.remove("enum");
            }
        }
    }
    // Keys the binary knows and SchemaStore does not: a schema derived from the binary's type.
    if let Some(props) = object_at(schema, &["properties"]) {
        for info in binary_keys() {
            if props.contains_key(&info.key) {
                continue;
            }
            let mut derived = derived_schema(&info.type_text);
            if let Some(obj) = derived.as_object_mut() {
                obj.insert("description".into(), Value::String(info.note.clone()));
            }
            props.insert(info.key.clone(), derived);
        }
    }
}

/// A schema for a binary type description such as `boolean`, `string[]` or `enum: a, b`.
/// Types the reference only sketches get no constraint beyond "present".
fn derived_schema(type_text: &str) -> Value {
    let t = type_text.trim();
    match t {
        "boolean" => return json!({"type": "boolean"}),
        "integer" => return json!({"type": "integer"}),
        "number" => return json!({"type": "number"}),
        "string" | "string (command)" => return json!({"type": "string"}),
        "string[]" => return json!({"type": "array", "items": {"type": "string"}}),
        "map<string,string>" => {
            return json!({"type": "object", "additionalProperties": {"type": "string"}});
        }
        "object" => return json!({"type": "object"}),
        "array" => return json!({"type": "array"}),
        _ => {}
    }
    if let Some(list) = t.strip_prefix("enum:") {
        let values: Vec<&str> = list.split(',').map(str::trim).collect();
        if values
            .iter()
            .all(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return json!({"type": "string", "enum": values});
        }
    }
    if let Some(list) = t.strip_prefix("array of enum:") {
        let values: Vec<&str> = list.split(',').map(str::trim).collect();
        return json!({"type": "array", "items": {"type": "string", "enum": values}});
    }
    if t.starts_with("object") || t.starts_with("map") {
        return json!({"type": "object"});
    }
    if t.starts_with("array") {
        return json!({"type": "array"});
    }
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlaid_schema_compiles_and_knows_the_binary_keys() {
        assert!(validator().is_ok(), "{:?}", validator().err());
        assert_eq!(binary_keys().len(), 206);
        let props = overlaid_schema()["properties"].as_object().unwrap();
        for key in [
            "managedSourcesBehavior",
            "deniedModels",
            "allowedProviders",
            "modelPricing",
            "maxEffortLevel",
        ] {
            assert!(props.contains_key(key), "{key}");
        }
        assert_eq!(
            props["managedSourcesBehavior"]["enum"],
            json!(["first-wins", "merge"])
        );
        assert!(props["hooks"]["properties"].get("PreModelSwitch").is_some());
    }

    #[test]
    fn derived_types() {
        assert_eq!(
            derived_schema("enum: 5m, 1h"),
            json!({"type": "string", "enum": ["5m", "1h"]})
        );
        assert_eq!(derived_schema("string[]")["items"]["type"], "string");
        assert_eq!(
            derived_schema("enum: auto, 12-hour | strftime string"),
            json!({})
        );
        assert_eq!(derived_schema("object {a?}"), json!({"type": "object"}));
    }
}
