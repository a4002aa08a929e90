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

/// Whether an attribute list names a key twice (OTLP forbids it, but receivers must cope).
pub fn has_duplicate_keys(values: &[KeyValue]) -> bool {
    // Lists are short (Claude Code sends 20-40): a pairwise check that compares lengths first
    // is cheaper than hashing every key. Long lists (up to the per-record cap) use a set.
    if values.len() > 64 {
        let mut seen = std::collections::HashSet::with_capacity(values.len());
        return !values.iter().all(|kv| seen.insert(kv.key.as_str()));
    }
    values.iter().enumerate().any(|(i, a)| {
        values[i + 1..]
            .iter()
            .any(|b| a.key.len() == b.key.len() && a.key == b.key)
    })
}

/// Keeps each key once, with its last value at its first position: what `key_values_to_json`
/// makes of a list that repeats keys.
pub fn dedupe_keys(values: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut kept: Vec<KeyValue> = Vec::with_capacity(values.len());
    let mut index = std::collections::HashMap::with_capacity(values.len());
    for kv in values {
        match index.get(&kv.key) {
            Some(&i) => kept[i] = kv,
            None => {
                index.insert(kv.key.clone(), kept.len());
                kept.push(kv);
            }
        }
    }
    kept
}

/// An attribute list serialised as the JSON object `key_values_to_json` would make of it,
/// without building that map first. The list must not repeat keys (see `dedupe_keys`).
pub struct JsonKeyValues<'a>(pub &'a [KeyValue]);

impl serde::Serialize for JsonKeyValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(&kv.key, &JsonAnyValue(kv.value.as_ref()))?;
        }
        map.end()
    }
}

/// One value serialised as `any_value_to_json` maps it.
struct JsonAnyValue<'a>(Option<&'a AnyValue>);

impl serde::Serialize for JsonAnyValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.0.and_then(|v| v.value.as_ref()) {
            None => serializer.serialize_unit(),
            Some(any_value::Value::StringValue(s)) => serializer.serialize_str(s),
            Some(any_value::Value::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(any_value::Value::IntValue(i)) => serializer.serialize_i64(*i),
            Some(any_value::Value::DoubleValue(d)) if d.is_finite() => serializer.serialize_f64(*d),
            Some(any_value::Value::DoubleValue(d)) => serializer.serialize_str(&d.to_string()),
            Some(any_value::Value::ArrayValue(array)) => {
                let mut seq = serializer.serialize_seq(Some(array.values.len()))?;
                for value in &array.values {
                    seq.serialize_element(&JsonAnyValue(Some(value)))?;
                }
                seq.end()
            }
            Some(any_value::Value::BytesValue(bytes)) => serializer.serialize_str(&hex(bytes)),
            // Nested lists may repeat keys, and are rare: the map does the de-duplicating.
            Some(other) => any_value_to_json(&AnyValue {
                value: Some(other.clone()),
            })
            .serialize(serializer),
        }
    }
}

/// The JSON text of an attribute list that does not repeat keys.
pub fn key_values_json_text(values: &[KeyValue]) -> String {
    // Serialising cannot fail: every key is a string and every value maps to JSON.
    serde_json::to_string(&JsonKeyValues(values)).unwrap_or_else(|_| "{}".to_owned())
}

/// An attribute value as text: a string as sent, bytes as hex; `None` for other kinds.
pub fn any_str(value: Option<&AnyValue>) -> Option<std::borrow::Cow<'_, str>> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(std::borrow::Cow::Borrowed(s)),
        any_value::Value::BytesValue(b) => Some(std::borrow::Cow::Owned(hex(b))),
        // JSON has no NaN or infinity: such a double is kept as its text.
        any_value::Value::DoubleValue(d) if !d.is_finite() => {
            Some(std::borrow::Cow::Owned(d.to_string()))
        }
        _ => None,
    }
}

/// `attr_string` for a value as sent: numbers and booleans rendered as JSON renders them.
pub fn any_string(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(
            serde_json::Number::from_f64(*d)
                .map(|n| n.to_string())
                .unwrap_or_else(|| d.to_string()),
        ),
        any_value::Value::BytesValue(b) => Some(hex(b)),
        _ => None,
    }
}

/// `attr_f64` for a value as sent.
pub fn any_f64(value: Option<&AnyValue>) -> Option<f64> {
    match value?.value.as_ref()? {
        any_value::Value::IntValue(i) => Some(*i as f64),
        any_value::Value::DoubleValue(d) => d.is_finite().then_some(*d),
        any_value::Value::StringValue(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// `attr_i64` for a value as sent.
pub fn any_i64(value: Option<&AnyValue>) -> Option<i64> {
    match value?.value.as_ref()? {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::DoubleValue(d) => integral(*d),
        any_value::Value::StringValue(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| integral(s.parse::<f64>().ok()?))
        }
        _ => None,
    }
}

/// `attr_bool` for a value as sent.
pub fn any_bool(value: Option<&AnyValue>) -> Option<bool> {
    match value?.value.as_ref()? {
        any_value::Value::BoolValue(b) => Some(*b),
        any_value::Value::StringValue(s) if s.eq_ignore_ascii_case("true") => Some(true),
        any_value::Value::StringValue(s) if s.eq_ignore_ascii_case("false") => Some(false),
        any_value::Value::IntValue(i) => Some(*i != 0),
        _ => None,
    }
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

/// Reads an attribute as an owned string, rendering numbers and booleans too.
pub fn attr_string(attrs: &Attributes, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
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

    // The readers over JSON attribute maps that normalisation used before it read values as
    // sent: the `any_*` readers must agree with them (`readers_of_values_as_sent_agree_…`).

    /// Reads an attribute as text. Numbers and booleans are rendered, arrays and objects are not.
    fn attr_str<'a>(attrs: &'a Attributes, key: &str) -> Option<&'a str> {
        match attrs.get(key)? {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Reads an attribute as a float: accepts JSON numbers and numeric strings.
    fn attr_f64(attrs: &Attributes, key: &str) -> Option<f64> {
        value_f64(attrs.get(key)?)
    }

    /// Reads an attribute as an integer: accepts integers, integral floats and numeric strings.
    fn attr_i64(attrs: &Attributes, key: &str) -> Option<i64> {
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
    fn attr_bool(attrs: &Attributes, key: &str) -> Option<bool> {
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

    fn every_kind() -> Vec<Option<any_value::Value>> {
        use any_value::Value as V;
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let mut kinds: Vec<Option<V>> = [
            "",
            " 13 ",
            "0.5",
            "abc",
            "true",
            "FALSE",
            "NaN",
            "1e3",
            "-7",
            "9007199254740993",
        ]
        .into_iter()
        .map(|s| Some(V::StringValue(s.into())))
        .collect();
        kinds.extend([0, -3, 1, i64::MAX].map(|i| Some(V::IntValue(i))));
        kinds.extend(
            [
                2.0,
                0.5,
                -0.0,
                1e20,
                1e-7,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ]
            .map(|d| Some(V::DoubleValue(d))),
        );
        kinds.extend([
            Some(V::BoolValue(true)),
            Some(V::BoolValue(false)),
            Some(V::BytesValue(vec![0xab, 0x01])),
            Some(V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::DoubleValue(f64::NAN)),
                    },
                    AnyValue { value: None },
                ],
            })),
            Some(V::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: "n".into(),
                        value: Some(AnyValue {
                            value: Some(V::IntValue(1)),
                        }),
                        key_strindex: 0,
                    },
                    KeyValue {
                        key: "n".into(),
                        value: None,
                        key_strindex: 0,
                    },
                ],
            })),
            Some(V::StringValueStrindex(4)),
            None,
        ]);
        kinds
    }

    #[test]
    fn readers_of_values_as_sent_agree_with_the_json_readers() {
        for kind in every_kind() {
            let value = AnyValue { value: kind };
            let mut map = Attributes::new();
            map.insert("k".into(), any_value_to_json(&value));
            let v = Some(&value);
            assert_eq!(any_str(v).as_deref(), attr_str(&map, "k"), "{value:?}");
            assert_eq!(any_string(v), attr_string(&map, "k"), "{value:?}");
            assert_eq!(any_i64(v), attr_i64(&map, "k"), "{value:?}");
            assert_eq!(any_bool(v), attr_bool(&map, "k"), "{value:?}");
            let (a, b) = (any_f64(v), attr_f64(&map, "k"));
            assert!(
                a == b || a.is_some_and(|a| b.is_some_and(|b| a.to_bits() == b.to_bits())),
                "{value:?}"
            );
        }
    }

    #[test]
    fn json_text_of_a_list_is_the_text_of_its_map() {
        let mut list: Vec<KeyValue> = every_kind()
            .into_iter()
            .enumerate()
            .map(|(i, kind)| KeyValue {
                key: format!("key {i} \"quoted\" \u{e9}"),
                value: Some(AnyValue { value: kind }),
                key_strindex: 0,
            })
            .collect();
        list.push(KeyValue {
            key: "no value".into(),
            value: None,
            key_strindex: 0,
        });
        assert!(!has_duplicate_keys(&list));
        let map_text = serde_json::to_string(&key_values_to_json(&list)).expect("text");
        assert_eq!(key_values_json_text(&list), map_text);

        // A repeated key keeps its last value at its first position, as the map does.
        let mut repeated = list.clone();
        repeated.insert(1, list[5].clone());
        repeated.push(KeyValue {
            key: list[0].key.clone(),
            value: list[3].value.clone(),
            key_strindex: 0,
        });
        assert!(has_duplicate_keys(&repeated));
        let map_text = serde_json::to_string(&key_values_to_json(&repeated)).expect("text");
        let deduped = dedupe_keys(repeated);
        assert!(!has_duplicate_keys(&deduped));
        assert_eq!(key_values_json_text(&deduped), map_text);
    }

    #[test]
    fn duplicates_are_found_in_short_and_long_lists() {
        let list = |n: usize, repeat: bool| -> Vec<KeyValue> {
            (0..n)
                .map(|i| KeyValue {
                    key: if repeat && i == n - 1 {
                        "k0".into()
                    } else {
                        format!("k{i}")
                    },
                    value: None,
                    key_strindex: 0,
                })
                .collect()
        };
        for n in [2, 20, 64, 65, 500] {
            assert!(!has_duplicate_keys(&list(n, false)), "{n}");
            assert!(has_duplicate_keys(&list(n, true)), "{n}");
        }
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
