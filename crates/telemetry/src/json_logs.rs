//! OTLP/JSON log exports decoded straight into the OTLP types.
//!
//! `opentelemetry-proto`'s serde support reads every attribute value (`AnyValue`) through
//! `#[serde(flatten)]`, which buffers the value's object into serde's `Content` before reading
//! it again, and reads `intValue` through an untagged enum that builds an error message for
//! every string-encoded integer (which is how OTLP/JSON sends them). On Claude Code's events,
//! about 20 attributes each, that was a third of the receiver's CPU for HTTP/JSON logs. These
//! definitions (serde's "remote" derive over the same types) read each value once, in place.
//! Same wire mapping as the library: camelCase keys, unknown keys ignored, missing fields
//! default, 64-bit integers as numbers or strings, ids in hex, bytes in base64; the tests in
//! `tests/json_logs.rs` decode every fixture and edge case both ways and compare.

use std::fmt;

use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Decodes one OTLP/JSON logs export body.
pub(crate) fn decode(body: &[u8]) -> Result<ExportLogsServiceRequest, serde_json::Error> {
    // One UTF-8 check of the whole body is cheaper than serde_json's check of each string
    // (a fifth of the decode); a body that fails it is read as bytes, for serde_json's error.
    match std::str::from_utf8(body) {
        Ok(text) => read(serde_json::Deserializer::from_str(text)),
        Err(_) => read(serde_json::Deserializer::from_slice(body)),
    }
}

fn read<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<ExportLogsServiceRequest, serde_json::Error> {
    let request = RequestDef::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(request)
}

/// A `Vec<$ty>` read element by element through `$def` (a newtype around the element, which
/// `collect` turns back into the element in place).
macro_rules! seq_of {
    ($name:ident, $ty:ty, $def:literal) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<$ty>, D::Error> {
            #[derive(Deserialize)]
            struct Element(#[serde(deserialize_with = $def)] $ty);
            let elements = Vec::<Element>::deserialize(deserializer)?;
            Ok(elements.into_iter().map(|e| e.0).collect())
        }
    };
}

/// An `Option<$ty>` read through `$def`.
macro_rules! option_of {
    ($name:ident, $ty:ty, $def:literal) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<$ty>, D::Error> {
            #[derive(Deserialize)]
            struct Element(#[serde(deserialize_with = $def)] $ty);
            Ok(Option::<Element>::deserialize(deserializer)?.map(|e| e.0))
        }
    };
}

seq_of!(resource_logs, ResourceLogs, "ResourceLogsDef::deserialize");
seq_of!(scope_logs, ScopeLogs, "ScopeLogsDef::deserialize");
seq_of!(log_records, LogRecord, "LogRecordDef::deserialize");
seq_of!(key_values, KeyValue, "KeyValueDef::deserialize");
seq_of!(any_values, AnyValue, "any_value");
seq_of!(entity_refs, EntityRef, "EntityRefDef::deserialize");
option_of!(resource, Resource, "ResourceDef::deserialize");
option_of!(
    scope,
    InstrumentationScope,
    "InstrumentationScopeDef::deserialize"
);
option_of!(optional_any_value, AnyValue, "any_value");

#[derive(Deserialize)]
#[serde(remote = "ExportLogsServiceRequest", rename_all = "camelCase")]
struct RequestDef {
    #[serde(default, deserialize_with = "resource_logs")]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize)]
#[serde(remote = "ResourceLogs", rename_all = "camelCase")]
struct ResourceLogsDef {
    #[serde(default, deserialize_with = "resource")]
    resource: Option<Resource>,
    #[serde(default, deserialize_with = "scope_logs")]
    scope_logs: Vec<ScopeLogs>,
    #[serde(default)]
    schema_url: String,
}

#[derive(Deserialize)]
#[serde(remote = "Resource", rename_all = "camelCase")]
struct ResourceDef {
    #[serde(default, deserialize_with = "key_values")]
    attributes: Vec<KeyValue>,
    #[serde(default)]
    dropped_attributes_count: u32,
    #[serde(default, deserialize_with = "entity_refs")]
    entity_refs: Vec<EntityRef>,
}

#[derive(Deserialize)]
#[serde(remote = "EntityRef", rename_all = "camelCase")]
struct EntityRefDef {
    #[serde(default)]
    schema_url: String,
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    id_keys: Vec<String>,
    #[serde(default)]
    description_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(remote = "ScopeLogs", rename_all = "camelCase")]
struct ScopeLogsDef {
    #[serde(default, deserialize_with = "scope")]
    scope: Option<InstrumentationScope>,
    #[serde(default, deserialize_with = "log_records")]
    log_records: Vec<LogRecord>,
    #[serde(default)]
    schema_url: String,
}

#[derive(Deserialize)]
#[serde(remote = "InstrumentationScope", rename_all = "camelCase")]
struct InstrumentationScopeDef {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default, deserialize_with = "key_values")]
    attributes: Vec<KeyValue>,
    #[serde(default)]
    dropped_attributes_count: u32,
}

#[derive(Deserialize)]
#[serde(remote = "LogRecord", rename_all = "camelCase")]
struct LogRecordDef {
    #[serde(default, deserialize_with = "u64_number_or_string")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "u64_number_or_string")]
    observed_time_unix_nano: u64,
    #[serde(default)]
    severity_number: i32,
    #[serde(default)]
    severity_text: String,
    #[serde(default, deserialize_with = "optional_any_value")]
    body: Option<AnyValue>,
    #[serde(default, deserialize_with = "key_values")]
    attributes: Vec<KeyValue>,
    #[serde(default)]
    dropped_attributes_count: u32,
    #[serde(default)]
    flags: u32,
    #[serde(default, deserialize_with = "hex_bytes")]
    trace_id: Vec<u8>,
    #[serde(default, deserialize_with = "hex_bytes")]
    span_id: Vec<u8>,
    #[serde(default)]
    event_name: String,
}

#[derive(Deserialize)]
#[serde(remote = "KeyValue", rename_all = "camelCase")]
struct KeyValueDef {
    key: String,
    #[serde(default, deserialize_with = "optional_any_value")]
    value: Option<AnyValue>,
    #[serde(default)]
    key_strindex: i32,
}

#[derive(Deserialize)]
#[serde(remote = "ArrayValue")]
struct ArrayValueDef {
    #[serde(deserialize_with = "any_values")]
    values: Vec<AnyValue>,
}

#[derive(Deserialize)]
#[serde(remote = "KeyValueList")]
struct KeyValueListDef {
    #[serde(deserialize_with = "key_values")]
    values: Vec<KeyValue>,
}

/// The keys of an `AnyValue` object; any other key is ignored.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum AnyValueKey {
    StringValue,
    BoolValue,
    IntValue,
    DoubleValue,
    ArrayValue,
    KvlistValue,
    BytesValue,
    #[serde(other)]
    Other,
}

/// An `AnyValue` object: the last of its value keys that is not null wins (as in the library).
fn any_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AnyValue, D::Error> {
    struct AnyValueVisitor;

    impl<'de> Visitor<'de> for AnyValueVisitor {
        type Value = AnyValue;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a JSON object for AnyValue")
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<AnyValue, M::Error> {
            #[derive(Deserialize)]
            struct Array(#[serde(deserialize_with = "ArrayValueDef::deserialize")] ArrayValue);
            #[derive(Deserialize)]
            struct List(#[serde(deserialize_with = "KeyValueListDef::deserialize")] KeyValueList);
            #[derive(Deserialize)]
            struct Int(#[serde(deserialize_with = "i64_number_or_string")] i64);

            let mut value = None;
            while let Some(key) = map.next_key::<AnyValueKey>()? {
                let next = match key {
                    AnyValueKey::StringValue => map
                        .next_value::<Option<String>>()?
                        .map(any_value::Value::StringValue),
                    AnyValueKey::BoolValue => map
                        .next_value::<Option<bool>>()?
                        .map(any_value::Value::BoolValue),
                    AnyValueKey::IntValue => map
                        .next_value::<Option<Int>>()?
                        .map(|i| any_value::Value::IntValue(i.0)),
                    AnyValueKey::DoubleValue => map
                        .next_value::<Option<f64>>()?
                        .map(any_value::Value::DoubleValue),
                    AnyValueKey::ArrayValue => map
                        .next_value::<Option<Array>>()?
                        .map(|a| any_value::Value::ArrayValue(a.0)),
                    AnyValueKey::KvlistValue => map
                        .next_value::<Option<List>>()?
                        .map(|l| any_value::Value::KvlistValue(l.0)),
                    AnyValueKey::BytesValue => match map.next_value::<Option<String>>()? {
                        Some(text) => Some(any_value::Value::BytesValue(
                            base64::engine::general_purpose::STANDARD
                                .decode(text.as_bytes())
                                .map_err(de::Error::custom)?,
                        )),
                        None => None,
                    },
                    AnyValueKey::Other => {
                        map.next_value::<IgnoredAny>()?;
                        None
                    }
                };
                if next.is_some() {
                    value = next;
                }
            }
            Ok(AnyValue { value })
        }
    }

    deserializer.deserialize_map(AnyValueVisitor)
}

/// A 64-bit integer sent as a JSON number or as a string of digits (OTLP/JSON's form).
macro_rules! integer_number_or_string {
    ($name:ident, $ty:ty, $what:literal) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
            struct IntegerVisitor;

            impl Visitor<'_> for IntegerVisitor {
                type Value = $ty;

                fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                    formatter.write_str(concat!($what, " as a number or a string of digits"))
                }

                fn visit_u64<E: de::Error>(self, value: u64) -> Result<$ty, E> {
                    <$ty>::try_from(value).map_err(|_| {
                        E::custom(format_args!("{value} is out of range for {}", $what))
                    })
                }

                fn visit_i64<E: de::Error>(self, value: i64) -> Result<$ty, E> {
                    <$ty>::try_from(value).map_err(|_| {
                        E::custom(format_args!("{value} is out of range for {}", $what))
                    })
                }

                fn visit_str<E: de::Error>(self, value: &str) -> Result<$ty, E> {
                    value.parse::<$ty>().map_err(|error| {
                        E::custom(format_args!("{value:?} is not {}: {error}", $what))
                    })
                }
            }

            deserializer.deserialize_any(IntegerVisitor)
        }
    };
}

integer_number_or_string!(u64_number_or_string, u64, "an unsigned 64-bit integer");
integer_number_or_string!(i64_number_or_string, i64, "a signed 64-bit integer");

/// Bytes sent as a hex string (trace and span ids).
fn hex_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct HexVisitor;

    impl Visitor<'_> for HexVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a string representing hex-encoded bytes")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<u8>, E> {
            const_hex::decode(value).map_err(E::custom)
        }
    }

    deserializer.deserialize_str(HexVisitor)
}
