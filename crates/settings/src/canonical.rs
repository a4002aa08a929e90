//! The one byte form every written settings file takes: keys sorted at every level, two-space
//! indent, UTF-8, a trailing newline. Arrays keep their order (it can matter, e.g. hooks).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `value` with every object's keys sorted.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(map.len());
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The canonical bytes of a settings document.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    // Serialising a serde_json::Value to a Vec cannot fail (keys are strings, no I/O).
    let mut bytes = serde_json::to_vec_pretty(&sorted(value)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Whether `text` is a plausible SHA-256 in lower-case hex.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A unified diff from `old` to `new`, labelled with `name`.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_keeps_arrays_and_ends_with_newline() {
        let doc: Value = serde_json::from_str(r#"{"z":1,"env":{"B":"2","A":"1"},"hooks":{"Stop":[{"b":1,"a":2}]},"$schema":"x","list":[3,1,2]}"#).unwrap();
        let text = String::from_utf8(canonical_bytes(&doc)).unwrap();
        assert_eq!(
            text,
            "{\n  \"$schema\": \"x\",\n  \"env\": {\n    \"A\": \"1\",\n    \"B\": \"2\"\n  },\n  \"hooks\": {\n    \"Stop\": [\n      {\n        \"a\": 2,\n        \"b\": 1\n      }\n    ]\n  },\n  \"list\": [\n    3,\n    1,\n    2\n  ],\n  \"z\": 1\n}\n"
        );
        // Stable: the canonical form of the canonical form is itself.
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonical_bytes(&again), text.as_bytes());
        assert_eq!(canonical_bytes(&json!({})), b"{}\n");
    }

    #[test]
    fn non_ascii_text_stays_utf8() {
        let text = String::from_utf8(canonical_bytes(
            &json!({"companyAnnouncements": ["Grüße ✓"]}),
        ))
        .unwrap();
        assert!(text.contains("Grüße ✓"));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_sha256_hex(&sha256_hex(b"")));
        assert!(!is_sha256_hex("ABC"));
    }

    #[test]
    fn diff_shows_changed_lines() {
        let d = unified_diff(
            "managed-settings.json",
            "{\n  \"a\": 1\n}\n",
            "{\n  \"a\": 2\n}\n",
        );
        assert!(
            d.contains("-  \"a\": 1") && d.contains("+  \"a\": 2"),
            "{d}"
        );
        assert!(d.contains("a/managed-settings.json"));
    }
}
