//! Attribute values as ccscope keeps them: an OTLP `AnyValue` mapped onto JSON, plus the
//! tolerant numeric readers Claude Code's mixed encodings need (a number may arrive as an
//! `intValue`, a `doubleValue` or a decimal string). Never loses a value: every kind maps.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::{Map, Value};

/// An ordered attribute set, keyed by attribute name. Later duplicates replace earlier ones,
/// as the OTLP spec asks of receivers.
pub type Attributes = Map<String, Value>;

/// Converts one OTLP `AnyValue` into JSON. Bytes become lowercase hex (OTLP/JSON uses base64
/// for `bytesValue`, but hex keeps ids readable and is what trace/span ids use).
pub fn any_value_to_json(value: &AnyValue) -> Value {
    match &value.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            // JSON has no NaN/inf: keep them as strings rather than dropping them.
            serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(d.to_string()))
        }
        Some(any_value::Value::ArrayValue(array)) => {
            Value::Array(array.values.iter().map(any_value_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => {
            Value::Object(key_values_to_json(&list.values))
        }
        Some(any_value::Value::BytesValue(bytes)) => Value::String(hex(bytes)),
        // An index into a profile's string table: meaningless without the table, kept as is.
        Some(any_value::Value::StringValueStrindex(index)) => {
            serde_json::json!({ "stringValueStrindex": index })
        }
    }
}

/// Converts an OTLP attribute list into a JSON object.
pub fn key_values_to_json(values: &[KeyValue]) -> Attributes {
    let mut map = Map::with_capacity(values.len());
    for kv in values {
        let json = kv
            .value
            .as_ref()
            .map(any_value_to_json)
            .unwrap_or(Value::Null);
        map.insert(kv.key.clone(), json);
    }
    map
}

/// Lowercase hex of a byte string (trace and span ids).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// Reads an attribute as text. Numbers and booleans are rendered, arrays and objects are not.
pub fn attr_str<'a>(attrs: &'a Attributes, key: &str) -> Option<&'a str> {
    match attrs.get(key)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Reads an attribute as an owned string, rendering numbers and booleans too.
pub fn attr_string(attrs: &Attributes, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads an attribute as a float: accepts JSON numbers and numeric strings.
pub fn attr_f64(attrs: &Attributes, key: &str) -> Option<f64> {
    value_f64(attrs.get(key)?)
}

/// Reads an attribute as an integer: accepts integers, integral floats and numeric strings.
pub fn attr_i64(attrs: &Attributes, key: &str) -> Option<i64> {
    match attrs.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| integral(n.as_f64()?)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| integral(s.parse::<f64>().ok()?))
        }
        _ => None,
    }
}

/// Reads an attribute as a boolean: accepts booleans and the strings `"true"`/`"false"`
/// (any case), which is how Claude Code encodes several flags.
pub fn attr_bool(attrs: &Attributes, key: &str) -> Option<bool> {
    match attrs.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

fn value_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attributes {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn numbers_are_read_from_ints_doubles_and_strings() {
        let a = attrs(json!({"i": 4, "d": 2.0, "s": " 13 ", "f": "0.5", "x": "abc", "b": true}));
        assert_eq!(attr_i64(&a, "i"), Some(4));
        assert_eq!(attr_i64(&a, "d"), Some(2));
        assert_eq!(attr_i64(&a, "s"), Some(13));
        assert_eq!(attr_i64(&a, "f"), None);
        assert_eq!(attr_f64(&a, "f"), Some(0.5));
        assert_eq!(attr_f64(&a, "x"), None);
        assert_eq!(attr_f64(&a, "b"), None);
        assert_eq!(attr_i64(&a, "missing"), None);
    }

    #[test]
    fn booleans_are_read_from_bools_and_strings() {
        let a = attrs(json!({"t": "true", "F": "FALSE", "b": false, "n": "maybe"}));
        assert_eq!(attr_bool(&a, "t"), Some(true));
        assert_eq!(attr_bool(&a, "F"), Some(false));
        assert_eq!(attr_bool(&a, "b"), Some(false));
        assert_eq!(attr_bool(&a, "n"), None);
    }

    #[test]
    fn every_any_value_kind_maps_to_json() {
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let kv = |k: &str, v: any_value::Value| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            key_strindex: 0,
        };
        let list = vec![
            kv("s", any_value::Value::StringValue("x".into())),
            kv("i", any_value::Value::IntValue(-3)),
            kv("d", any_value::Value::DoubleValue(f64::NAN)),
            kv("b", any_value::Value::BytesValue(vec![0xab, 0x01])),
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }],
                }),
            ),
            kv(
                "k",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("n", any_value::Value::IntValue(1))],
                }),
            ),
            KeyValue {
                key: "empty".into(),
                value: None,
                key_strindex: 0,
            },
        ];
        let json = Value::Object(key_values_to_json(&list));
        assert_eq!(
            json,
            json!({"s":"x","i":-3,"d":"NaN","b":"ab01","a":[true],"k":{"n":1},"empty":null})
        );
    }
}
