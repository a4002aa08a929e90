//! The one table of what Claude Code's events mean, as data: per fact, the event names it
//! applies to, its source keys in priority order, its type and its rule; and the JSON type of
//! every known attribute. Ingest (`normalize`) interprets the table over an OTLP record;
//! the ClickHouse reader generates its SQL from the same table (`ccscope-clickhouse`'s
//! `facts` SQL); the SQLite store keeps the interpreted values in columns and its reader reads
//! only those. A fact is added here, once, and every source answers it alike.
//!
//! Must never: hold a rule anywhere but in `FACT_RULES`; read a value differently for one
//! source than for another (empty text is absent everywhere; a boolean is `true`/`false` in
//! any case or an integer, non-zero being true).

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// A fact's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    Text,
    Integer,
    Real,
    Boolean,
}

/// Every fact an event row carries beside its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    Model,
    CostUsd,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheCreationTokens,
    DurationMs,
    TtftMs,
    Success,
    StatusCode,
    Attempt,
    ToolName,
    ToolUseId,
    RequestId,
    Decision,
    DecisionSource,
    Error,
    PromptText,
}

impl Fact {
    /// Every fact, in the order of `EventFacts`' fields and of the enum (`fact as usize`
    /// indexes it).
    pub const ALL: [Fact; 18] = [
        Fact::Model,
        Fact::CostUsd,
        Fact::InputTokens,
        Fact::OutputTokens,
        Fact::CacheReadTokens,
        Fact::CacheCreationTokens,
        Fact::DurationMs,
        Fact::TtftMs,
        Fact::Success,
        Fact::StatusCode,
        Fact::Attempt,
        Fact::ToolName,
        Fact::ToolUseId,
        Fact::RequestId,
        Fact::Decision,
        Fact::DecisionSource,
        Fact::Error,
        Fact::PromptText,
    ];

    pub fn kind(self) -> FactType {
        match self {
            Fact::Model
            | Fact::ToolName
            | Fact::ToolUseId
            | Fact::RequestId
            | Fact::Decision
            | Fact::DecisionSource
            | Fact::Error
            | Fact::PromptText => FactType::Text,
            Fact::InputTokens
            | Fact::OutputTokens
            | Fact::CacheReadTokens
            | Fact::CacheCreationTokens
            | Fact::StatusCode
            | Fact::Attempt => FactType::Integer,
            Fact::CostUsd | Fact::DurationMs | Fact::TtftMs => FactType::Real,
            Fact::Success => FactType::Boolean,
        }
    }
}

/// How a fact is read from a record's attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Not carried by these events.
    Absent,
    /// The first key present (non-empty, of the fact's type), divided by its divisor (1 for
    /// all but unit conversions: `cost_usd_micros` / 1,000,000).
    First(&'static [(&'static str, f64)]),
    /// Always this value (an `api_request` succeeded; an `api_error` did not).
    Always(bool),
    /// True unless the key's text is this (`mcp_server_connection`: `status` != `failed`);
    /// absent without the key.
    Unless(&'static str, &'static str),
    /// True when every key is present and zero (a hook: nothing blocked, no error); absent
    /// unless all are present.
    AllZero(&'static [&'static str]),
}

/// Which events a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// These event names.
    Only(&'static [&'static str]),
    /// Any event not named by an earlier rule of the same fact.
    Other,
}

impl Events {
    pub fn matches(self, name: &str) -> bool {
        match self {
            Events::Only(names) => names.contains(&name),
            Events::Other => true,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactRule {
    pub fact: Fact,
    pub events: Events,
    pub rule: Rule,
}

const fn row(fact: Fact, events: Events, rule: Rule) -> FactRule {
    FactRule { fact, events, rule }
}

use Events::{Only, Other};
use Fact::*;
use Rule::{Absent, AllZero, Always, First, Unless};

/// The table. For each fact the first row whose events match an event's name decides; every
/// fact ends with an `Other` row.
pub const FACT_RULES: &[FactRule] = &[
    row(
        Model,
        Only(&["subagent_completed"]),
        First(&[("final_model", 1.0), ("model", 1.0)]),
    ),
    row(Model, Other, First(&[("model", 1.0)])),
    row(
        CostUsd,
        Only(&["api_request"]),
        First(&[("cost_usd", 1.0), ("cost_usd_micros", 1_000_000.0)]),
    ),
    row(CostUsd, Other, Absent),
    row(
        InputTokens,
        Only(&["api_request"]),
        First(&[("input_tokens", 1.0)]),
    ),
    row(InputTokens, Other, Absent),
    row(
        OutputTokens,
        Only(&["api_request"]),
        First(&[("output_tokens", 1.0)]),
    ),
    row(OutputTokens, Other, Absent),
    row(
        CacheReadTokens,
        Only(&["api_request"]),
        First(&[("cache_read_tokens", 1.0)]),
    ),
    row(CacheReadTokens, Other, Absent),
    row(
        CacheCreationTokens,
        Only(&["api_request"]),
        First(&[("cache_creation_tokens", 1.0)]),
    ),
    row(CacheCreationTokens, Other, Absent),
    row(
        DurationMs,
        Only(&["api_retries_exhausted"]),
        First(&[("total_retry_duration_ms", 1.0)]),
    ),
    row(
        DurationMs,
        Only(&["hook_execution_complete"]),
        First(&[("total_duration_ms", 1.0)]),
    ),
    row(DurationMs, Other, First(&[("duration_ms", 1.0)])),
    row(TtftMs, Only(&["api_request"]), First(&[("ttft_ms", 1.0)])),
    row(TtftMs, Other, Absent),
    row(Success, Only(&["api_request"]), Always(true)),
    row(
        Success,
        Only(&["api_error", "api_retries_exhausted", "api_refusal"]),
        Always(false),
    ),
    row(
        Success,
        Only(&["mcp_server_connection"]),
        Unless("status", "failed"),
    ),
    row(
        Success,
        Only(&["hook_execution_complete"]),
        AllZero(&["num_blocking", "num_non_blocking_error"]),
    ),
    row(Success, Other, First(&[("success", 1.0)])),
    row(StatusCode, Other, First(&[("status_code", 1.0)])),
    row(
        Attempt,
        Only(&["api_retries_exhausted"]),
        First(&[("total_attempts", 1.0)]),
    ),
    row(Attempt, Other, First(&[("attempt", 1.0)])),
    row(ToolName, Other, First(&[("tool_name", 1.0)])),
    row(ToolUseId, Other, First(&[("tool_use_id", 1.0)])),
    row(RequestId, Other, First(&[("request_id", 1.0)])),
    row(
        Decision,
        Only(&["tool_result"]),
        First(&[("decision_type", 1.0)]),
    ),
    row(Decision, Other, First(&[("decision", 1.0)])),
    row(
        DecisionSource,
        Only(&["tool_result", "safety_event"]),
        First(&[("decision_source", 1.0)]),
    ),
    row(
        DecisionSource,
        Only(&["tool_decision"]),
        First(&[("source", 1.0)]),
    ),
    row(DecisionSource, Other, Absent),
    row(
        Error,
        Only(&["tool_result"]),
        First(&[("error", 1.0), ("error_type", 1.0)]),
    ),
    row(
        Error,
        Only(&["mcp_server_connection"]),
        First(&[("error", 1.0), ("error_code", 1.0)]),
    ),
    row(
        Error,
        Only(&["internal_error"]),
        First(&[("error_name", 1.0), ("error_code", 1.0)]),
    ),
    row(Error, Other, First(&[("error", 1.0)])),
    row(
        PromptText,
        Only(&["user_prompt"]),
        First(&[("prompt_text", 1.0), ("prompt", 1.0)]),
    ),
    row(PromptText, Other, Absent),
];

/// The placeholder Claude Code sends instead of prompt text unless prompt logging is on: a
/// prompt fact never holds it.
pub const REDACTED: &str = "<REDACTED>";

/// The rules of `fact`, in order (the last is its `Other` row).
pub fn rules_of(fact: Fact) -> impl Iterator<Item = &'static FactRule> {
    FACT_RULES.iter().filter(move |r| r.fact == fact)
}

/// The rule that decides `fact` for the event `name`.
pub fn rule_for(fact: Fact, name: &str) -> Rule {
    rules_of(fact)
        .find(|r| r.events.matches(name))
        .map_or(Rule::Absent, |r| r.rule)
}

/// A fact's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    Text(String),
    Integer(i64),
    Real(f64),
    Boolean(bool),
}

/// An attribute value as any source holds it: the sender's typed value (OTLP), or the text the
/// exporter rendered (ClickHouse).
pub trait AttributeValue {
    /// Non-empty text, or a number or boolean rendered as text.
    fn text(&self) -> Option<Cow<'_, str>>;
    /// A finite number (a numeric text included).
    fn number(&self) -> Option<f64>;
    /// `true`/`false` in any case, or an integer (non-zero is true).
    fn boolean(&self) -> Option<bool>;
}

fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// The boolean a text means, by the table's rule.
pub fn text_boolean(text: &str) -> Option<bool> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        t.parse::<i64>().ok().map(|i| i != 0)
    }
}

/// The number a text means, by the table's rule.
pub fn text_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

fn typed<V: AttributeValue + ?Sized>(value: &V, kind: FactType, divisor: f64) -> Option<FactValue> {
    match kind {
        FactType::Text => value
            .text()
            .filter(|t| !t.is_empty())
            .map(|t| FactValue::Text(t.into_owned())),
        FactType::Real => value.number().map(|n| FactValue::Real(n / divisor)),
        FactType::Integer => value
            .number()
            .and_then(|n| integral(n / divisor))
            .map(FactValue::Integer),
        FactType::Boolean => value.boolean().map(FactValue::Boolean),
    }
}

/// `fact` of the event `name` whose attributes `get` looks up, by the table.
pub fn evaluate<'a, V: AttributeValue + ?Sized + 'a>(
    fact: Fact,
    name: &str,
    get: impl Fn(&str) -> Option<&'a V>,
) -> Option<FactValue> {
    apply(fact, rule_for(fact, name), &get)
}

/// Every fact of the event `name` (indexed as `Fact::ALL`), in one pass over the table: what
/// ingest runs for each event.
pub fn evaluate_all<'a, V: AttributeValue + ?Sized + 'a>(
    name: &str,
    get: impl Fn(&str) -> Option<&'a V>,
) -> [Option<FactValue>; Fact::ALL.len()] {
    let mut decided = [false; Fact::ALL.len()];
    let mut out: [Option<FactValue>; Fact::ALL.len()] = Default::default();
    for row in FACT_RULES {
        let i = row.fact as usize;
        if !decided[i] && row.events.matches(name) {
            decided[i] = true;
            out[i] = apply(row.fact, row.rule, &get);
        }
    }
    out
}

fn apply<'a, V: AttributeValue + ?Sized + 'a>(
    fact: Fact,
    rule: Rule,
    get: &impl Fn(&str) -> Option<&'a V>,
) -> Option<FactValue> {
    let value = match rule {
        Rule::Absent => None,
        Rule::First(keys) => keys
            .iter()
            .find_map(|(key, divisor)| typed(get(key)?, fact.kind(), *divisor)),
        Rule::Always(b) => Some(FactValue::Boolean(b)),
        Rule::Unless(key, text) => get(key)
            .and_then(|v| v.text().map(|t| t != text))
            .map(FactValue::Boolean),
        Rule::AllZero(keys) => keys
            .iter()
            .map(|k| get(k).and_then(AttributeValue::number))
            .collect::<Option<Vec<f64>>>()
            .map(|all| FactValue::Boolean(all.iter().all(|n| *n == 0.0))),
    };
    match value {
        Some(FactValue::Text(t)) if fact == Fact::PromptText && t == REDACTED => None,
        other => other,
    }
}

/// The JSON type of a known attribute, whatever its source rendered it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// A number: an integer when integral.
    Number,
    Boolean,
    /// A list (the exporter renders it as JSON text).
    Array,
}

/// Known attributes that are not text. Every other attribute is shown as sent (SQLite) or as
/// the exporter rendered it (ClickHouse, always text).
pub const ATTRIBUTE_TYPES: &[(&str, AttributeType)] = &[
    ("event.sequence", AttributeType::Number),
    ("duration_ms", AttributeType::Number),
    ("ttft_ms", AttributeType::Number),
    ("cost_usd", AttributeType::Number),
    ("cost_usd_micros", AttributeType::Number),
    ("input_tokens", AttributeType::Number),
    ("output_tokens", AttributeType::Number),
    ("cache_read_tokens", AttributeType::Number),
    ("cache_creation_tokens", AttributeType::Number),
    ("cache_creation_5m_tokens", AttributeType::Number),
    ("cache_creation_1h_tokens", AttributeType::Number),
    ("status_code", AttributeType::Number),
    ("attempt", AttributeType::Number),
    ("total_attempts", AttributeType::Number),
    ("total_retry_duration_ms", AttributeType::Number),
    ("total_duration_ms", AttributeType::Number),
    ("prompt_length", AttributeType::Number),
    ("response_length", AttributeType::Number),
    ("tool_result_size_bytes", AttributeType::Number),
    ("num_hooks", AttributeType::Number),
    ("num_success", AttributeType::Number),
    ("num_blocking", AttributeType::Number),
    ("num_non_blocking_error", AttributeType::Number),
    ("num_cancelled", AttributeType::Number),
    ("total_tokens", AttributeType::Number),
    ("total_tool_uses", AttributeType::Number),
    ("first_content_ms", AttributeType::Number),
    ("interaction.sequence", AttributeType::Number),
    ("interaction.duration_ms", AttributeType::Number),
    ("user_prompt_length", AttributeType::Number),
    ("queued_sends", AttributeType::Number),
    ("gen_ai.usage.input_tokens", AttributeType::Number),
    ("gen_ai.usage.output_tokens", AttributeType::Number),
    (
        "gen_ai.usage.cache_read.input_tokens",
        AttributeType::Number,
    ),
    (
        "gen_ai.usage.cache_write.input_tokens",
        AttributeType::Number,
    ),
    ("success", AttributeType::Boolean),
    ("model_swapped", AttributeType::Boolean),
    ("tool_input_size_bytes", AttributeType::Number),
    ("skill_path_count", AttributeType::Number),
    ("command_path_count", AttributeType::Number),
    ("agent_path_count", AttributeType::Number),
    ("anthropic.custom_base_url", AttributeType::Boolean),
    ("has_hooks", AttributeType::Boolean),
    ("has_mcp", AttributeType::Boolean),
    ("host_owned_mcp", AttributeType::Boolean),
    ("gen_ai.response.finish_reasons", AttributeType::Array),
    ("managed_settings.sources", AttributeType::Array),
];

fn attribute_type(key: &str) -> Option<AttributeType> {
    ATTRIBUTE_TYPES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, t)| *t)
}

/// A JSON number as the table shows numbers: an integer when integral.
fn json_number(n: f64) -> Option<Value> {
    match integral(n) {
        Some(i) => Some(Value::from(i)),
        None => Number::from_f64(n).map(Value::Number),
    }
}

/// Gives every known attribute of `attributes` its type (`"5"` → `5`, `"true"` → `true`,
/// `12.0` → `12`); a value that does not read as its type is left as it is.
pub fn type_attributes(attributes: &mut Map<String, Value>) {
    for (key, value) in attributes.iter_mut() {
        let Some(kind) = attribute_type(key) else {
            continue;
        };
        let typed = match (kind, &*value) {
            (AttributeType::Number, Value::String(s)) => text_number(s).and_then(json_number),
            (AttributeType::Number, Value::Number(n)) => n.as_f64().and_then(json_number),
            (AttributeType::Boolean, Value::String(s)) => text_boolean(s).map(Value::Bool),
            (AttributeType::Boolean, Value::Number(n)) => n.as_i64().map(|i| Value::Bool(i != 0)),
            (AttributeType::Array, Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_array),
            _ => None,
        };
        if let Some(typed) = typed {
            *value = typed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl AttributeValue for str {
        fn text(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self))
        }
        fn number(&self) -> Option<f64> {
            text_number(self)
        }
        fn boolean(&self) -> Option<bool> {
            text_boolean(self)
        }
    }

    fn eval(fact: Fact, name: &str, attrs: &[(&str, &'static str)]) -> Option<FactValue> {
        let attrs: Vec<(&str, &'static str)> = attrs.to_vec();
        evaluate::<str>(fact, name, |k| {
            attrs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
        })
    }

    #[test]
    fn all_facts_in_one_pass_equal_each_fact_alone() {
        let attrs: Vec<(&str, &'static str)> = vec![
            ("model", "m"),
            ("final_model", "f"),
            ("success", "true"),
            ("status", "failed"),
            ("num_blocking", "0"),
            ("num_non_blocking_error", "0"),
            ("cost_usd_micros", "10"),
            ("error_type", "e"),
            ("decision_type", "d"),
            ("source", "s"),
            ("prompt", "p"),
        ];
        let get = |k: &str| attrs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        for name in [
            "api_request",
            "api_error",
            "tool_result",
            "tool_decision",
            "mcp_server_connection",
            "hook_execution_complete",
            "subagent_completed",
            "user_prompt",
            "internal_error",
            "something_new",
        ] {
            let all = evaluate_all::<str>(name, get);
            for fact in Fact::ALL {
                assert_eq!(
                    all[fact as usize],
                    evaluate::<str>(fact, name, get),
                    "{fact:?} of {name}"
                );
            }
        }
    }

    #[test]
    fn every_fact_has_a_rule_for_any_event() {
        for (i, fact) in Fact::ALL.into_iter().enumerate() {
            assert_eq!(fact as usize, i, "ALL is in the enum's order");
        }
        for fact in Fact::ALL {
            let last = rules_of(fact).last().expect("a rule");
            assert_eq!(
                last.events,
                Events::Other,
                "{fact:?} ends with an Other row"
            );
            assert_eq!(
                rules_of(fact).filter(|r| r.events == Events::Other).count(),
                1,
                "{fact:?}"
            );
        }
        assert!(FACT_RULES.iter().all(|r| Fact::ALL.contains(&r.fact)));
    }

    #[test]
    fn the_rules_read_as_documented() {
        use FactValue::*;
        assert_eq!(
            eval(
                Success,
                "hook_execution_complete",
                &[("num_blocking", "0"), ("num_non_blocking_error", "0")]
            ),
            Some(Boolean(true))
        );
        assert_eq!(
            eval(
                Success,
                "hook_execution_complete",
                &[("num_blocking", "1"), ("num_non_blocking_error", "0")]
            ),
            Some(Boolean(false))
        );
        assert_eq!(
            eval(Success, "hook_execution_complete", &[("num_blocking", "0")]),
            None
        );
        assert_eq!(
            eval(Success, "mcp_server_connection", &[("status", "connected")]),
            Some(Boolean(true))
        );
        assert_eq!(
            eval(Success, "mcp_server_connection", &[("status", "failed")]),
            Some(Boolean(false))
        );
        assert_eq!(eval(Success, "mcp_server_connection", &[]), None);
        assert_eq!(
            eval(Success, "tool_result", &[("success", "TRUE")]),
            Some(Boolean(true))
        );
        assert_eq!(
            eval(Success, "tool_result", &[("success", "0")]),
            Some(Boolean(false))
        );
        assert_eq!(
            eval(Success, "api_request", &[("success", "false")]),
            Some(Boolean(true))
        );
        assert_eq!(
            eval(CostUsd, "api_request", &[("cost_usd_micros", "12500")]),
            Some(Real(0.0125))
        );
        assert_eq!(
            eval(
                CostUsd,
                "api_request",
                &[("cost_usd", ""), ("cost_usd_micros", "5")]
            ),
            Some(Real(5e-6))
        );
        assert_eq!(eval(CostUsd, "tool_result", &[("cost_usd", "1")]), None);
        assert_eq!(
            eval(Error, "internal_error", &[("error_code", "E1")]),
            Some(Text("E1".into()))
        );
        assert_eq!(
            eval(
                Error,
                "tool_result",
                &[("error", ""), ("error_type", "timeout")]
            ),
            Some(Text("timeout".into()))
        );
        assert_eq!(
            eval(
                Decision,
                "tool_result",
                &[("decision", "x"), ("decision_type", "accept")]
            ),
            Some(Text("accept".into()))
        );
        assert_eq!(
            eval(DecisionSource, "tool_decision", &[("source", "config")]),
            Some(Text("config".into()))
        );
        assert_eq!(
            eval(
                Model,
                "subagent_completed",
                &[("model", "a"), ("final_model", "b")]
            ),
            Some(Text("b".into()))
        );
        assert_eq!(
            eval(PromptText, "user_prompt", &[("prompt", REDACTED)]),
            None
        );
        assert_eq!(
            eval(InputTokens, "api_request", &[("input_tokens", "12.5")]),
            None
        );
        assert_eq!(
            eval(InputTokens, "api_request", &[("input_tokens", "12")]),
            Some(Integer(12))
        );
    }

    #[test]
    fn known_attributes_are_typed_alike_from_any_rendering() {
        let mut sent = serde_json::json!({"event.sequence": 5, "duration_ms": "12", "cost_usd": 0.0, "success": "true", "tool_name": "Bash", "odd": "7"});
        let mut rendered = serde_json::json!({"event.sequence": "5", "duration_ms": "12", "cost_usd": "0", "success": "true", "tool_name": "Bash", "odd": "7"});
        for v in [&mut sent, &mut rendered] {
            type_attributes(v.as_object_mut().expect("object"));
        }
        assert_eq!(sent, rendered);
        assert_eq!(sent["event.sequence"], 5);
        assert_eq!(sent["success"], true);
        assert_eq!(sent["cost_usd"].to_string(), "0");
        assert_eq!(sent["odd"], "7", "an unknown attribute stays as it is");
    }
}
