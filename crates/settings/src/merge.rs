//! How Claude Code combines settings files (reference §9.2).

use serde_json::{Map, Value};

/// Keys whose later value replaces the earlier one whole, even when both are containers.
const REPLACE_WHOLE: &[&str] = &["fallbackModel"];
/// Maps whose same-named entries are replaced whole rather than merged.
const REPLACE_ENTRIES: &[&str] = &["extraKnownMarketplaces"];

/// Merges drop-in `later` over `base` as Claude Code merges `managed-settings.json` and its
/// `managed-settings.d/*.json`: scalars later-wins, arrays concatenated without duplicates,
/// objects merged per key.
pub fn merge_drop_in(base: &mut Map<String, Value>, later: &Map<String, Value>) {
    for (key, value) in later {
        if REPLACE_WHOLE.contains(&key.as_str()) {
            base.insert(key.clone(), value.clone());
            continue;
        }
        if REPLACE_ENTRIES.contains(&key.as_str())
            && let (Some(Value::Object(into)), Value::Object(from)) = (base.get_mut(key), value)
        {
            for (name, entry) in from {
                into.insert(name.clone(), entry.clone());
            }
            continue;
        }
        match base.get_mut(key) {
            Some(existing) => merge_value(existing, value),
            None => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_value(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                match a.get_mut(key) {
                    Some(existing) => merge_value(existing, value),
                    None => {
                        a.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for item in b {
                if !a.contains(item) {
                    a.push(item.clone());
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

/// Whether a managed source delivers policy: any key except `wslInheritsWindowsSettings`.
pub fn delivers_policy(doc: &Map<String, Value>) -> bool {
    doc.keys().any(|k| k != "wslInheritsWindowsSettings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn drop_ins_merge_by_the_documented_rules() {
        let mut base = obj(json!({
            "model": "a",
            "env": {"A": "1", "B": "1"},
            "permissions": {"deny": ["Read(.env)"], "defaultMode": "default"},
            "fallbackModel": ["x", "y"],
            "extraKnownMarketplaces": {"m": {"source": {"source": "github", "repo": "a/b"}, "autoUpdate": true}}
        }));
        merge_drop_in(
            &mut base,
            &obj(json!({
                "model": "b",
                "env": {"B": "2", "C": "3"},
                "permissions": {"deny": ["Read(.env)", "Bash(rm *)"]},
                "fallbackModel": ["z"],
                "extraKnownMarketplaces": {"m": {"source": {"source": "github", "repo": "c/d"}}}
            })),
        );
        assert_eq!(
            Value::Object(base),
            json!({
                "model": "b",
                "env": {"A": "1", "B": "2", "C": "3"},
                "permissions": {"deny": ["Read(.env)", "Bash(rm *)"], "defaultMode": "default"},
                "fallbackModel": ["z"],
                "extraKnownMarketplaces": {"m": {"source": {"source": "github", "repo": "c/d"}}}
            })
        );
    }

    #[test]
    fn wsl_inheritance_alone_is_not_policy() {
        assert!(!delivers_policy(&obj(
            json!({"wslInheritsWindowsSettings": true})
        )));
        assert!(delivers_policy(&obj(json!({"model": "x"}))));
    }
}
