//! The OS policy stores Claude Code reads ahead of the managed file: the macOS managed
//! preferences plist and the Windows registry policy. The conversions are pure and tested on
//! every platform; the reading itself is compiled only where the store exists.

use serde_json::{Map, Number, Value};

/// Converts a managed-preferences plist (top-level keys as in the JSON, nested dictionaries and
/// arrays) into a settings document.
pub fn plist_to_json(value: &plist::Value) -> Value {
    match value {
        plist::Value::Dictionary(dict) => {
            let mut map = Map::new();
            for (k, v) in dict {
                map.insert(k.clone(), plist_to_json(v));
            }
            Value::Object(map)
        }
        plist::Value::Array(items) => Value::Array(items.iter().map(plist_to_json).collect()),
        plist::Value::Boolean(b) => Value::Bool(*b),
        plist::Value::Integer(i) => i
            .as_signed()
            .map(Value::from)
            .or_else(|| i.as_unsigned().map(Value::from))
            .unwrap_or(Value::Null),
        plist::Value::Real(f) => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        plist::Value::String(s) => Value::String(s.clone()),
        plist::Value::Date(d) => Value::String(d.to_xml_format()),
        plist::Value::Data(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        plist::Value::Uid(uid) => Value::from(uid.get()),
        _ => Value::Null,
    }
}

/// Reads a managed-preferences plist (XML or binary) from `bytes`.
pub fn parse_plist(bytes: &[u8]) -> Result<Value, String> {
    plist::Value::from_reader(std::io::Cursor::new(bytes))
        .map(|v| plist_to_json(&v))
        .map_err(|e| format!("not a property list: {e}"))
}

/// Parses the registry policy value `Settings` (REG_SZ or REG_EXPAND_SZ holding JSON).
pub fn parse_registry_settings(text: &str) -> Result<Value, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_end_matches('\0');
    serde_json::from_str(trimmed)
        .map_err(|e| format!("the registry value Settings is not JSON: {e}"))
}

/// Reads `HKLM` (or `HKCU`) `SOFTWARE\Policies\ClaudeCode` value `Settings`.
#[cfg(windows)]
pub fn read_registry(machine: bool) -> Option<Result<Value, String>> {
    use winreg::RegKey;
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    let hive = RegKey::predef(if machine {
        HKEY_LOCAL_MACHINE
    } else {
        HKEY_CURRENT_USER
    });
    let key = hive.open_subkey(r"SOFTWARE\Policies\ClaudeCode").ok()?;
    let text: String = key.get_value("Settings").ok()?;
    Some(parse_registry_settings(&text))
}

#[cfg(not(windows))]
pub fn read_registry(_machine: bool) -> Option<Result<Value, String>> {
    None
}

/// Reads the macOS managed preferences for `com.anthropic.claudecode`.
#[cfg(target_os = "macos")]
pub fn read_managed_preferences() -> Option<Result<Value, String>> {
    let bytes = std::fs::read(crate::paths::MACOS_MANAGED_PLIST).ok()?;
    Some(parse_plist(&bytes))
}

#[cfg(not(target_os = "macos"))]
pub fn read_managed_preferences() -> Option<Result<Value, String>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_configuration_profile_plist_becomes_settings_json() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>env</key><dict><key>CLAUDE_CODE_ENABLE_TELEMETRY</key><string>1</string></dict>
  <key>permissions</key><dict><key>deny</key><array><string>Bash(curl *)</string></array></dict>
  <key>cleanupPeriodDays</key><integer>14</integer>
  <key>feedbackSurveyRate</key><real>0.5</real>
  <key>disableAllHooks</key><true/>
</dict></plist>"#;
        assert_eq!(
            parse_plist(xml.as_bytes()).unwrap(),
            json!({
                "env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1"},
                "permissions": {"deny": ["Bash(curl *)"]},
                "cleanupPeriodDays": 14,
                "feedbackSurveyRate": 0.5,
                "disableAllHooks": true
            })
        );
        assert!(parse_plist(b"not a plist").is_err());
    }

    #[test]
    fn registry_json_tolerates_bom_and_terminator() {
        assert_eq!(
            parse_registry_settings("\u{feff}{\"model\":\"x\"}\0").unwrap(),
            json!({"model": "x"})
        );
        assert!(parse_registry_settings("{").is_err());
    }
}
