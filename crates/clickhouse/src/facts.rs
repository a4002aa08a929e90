//! The event facts as ClickHouse SQL, generated from the telemetry crate's one table
//! (`ccscope_telemetry::facts::FACT_RULES`): the same rules ingest applies for the SQLite
//! store, read from the exporter's `Map(String, String)` of rendered attribute values.
//!
//! Must never: hold a rule of its own; splice anything but the table's own constant keys.

use ccscope_telemetry::facts::{self, Events, Fact, FactType, Rule};

/// A `Nullable` NULL of the fact's type, so every branch of a `multiIf` agrees.
fn null(kind: FactType) -> &'static str {
    match kind {
        FactType::Text => "CAST(NULL, 'Nullable(String)')",
        FactType::Integer => "CAST(NULL, 'Nullable(Int64)')",
        FactType::Real => "CAST(NULL, 'Nullable(Float64)')",
        FactType::Boolean => "CAST(NULL, 'Nullable(UInt8)')",
    }
}

/// A constant key of the table as an SQL string literal.
fn literal(key: &str) -> String {
    debug_assert!(!key.contains(['\'', '\\']), "{key}");
    format!("'{key}'")
}

/// A finite number read from a rendered value (NULL when it does not read as one), as
/// `facts::text_number` reads it.
fn number(map: &str, key: &str) -> String {
    let v = format!("toFloat64OrNull(trimBoth({map}[{}]))", literal(key));
    format!("if(isFinite(ifNull({v}, nan)), {v}, NULL)")
}

/// A boolean read from a rendered value, as `facts::text_boolean` reads it.
fn boolean(map: &str, key: &str) -> String {
    let t = format!("lower(trimBoth({map}[{}]))", literal(key));
    let i = format!("toInt64OrNull(trimBoth({map}[{}]))", literal(key));
    format!(
        "multiIf({t} = 'true', toNullable(toUInt8(1)), {t} = 'false', toNullable(toUInt8(0)), isNotNull({i}), toNullable(toUInt8({i} != 0)), NULL)"
    )
}

fn first(kind: FactType, map: &str, key: &str, divisor: f64) -> String {
    let scaled = |n: String| {
        if divisor == 1.0 {
            n
        } else {
            format!("({n}) / {divisor:?}")
        }
    };
    match kind {
        FactType::Text => format!("nullIf({map}[{}], '')", literal(key)),
        FactType::Real => scaled(number(map, key)),
        FactType::Integer => {
            let v = scaled(number(map, key));
            format!(
                "if(ifNull(({v}) = floor({v}) AND abs({v}) < 9e15, 0), toNullable(toInt64({v})), NULL)"
            )
        }
        FactType::Boolean => boolean(map, key),
    }
}

fn rule_sql(fact: Fact, rule: Rule, map: &str) -> String {
    let kind = fact.kind();
    match rule {
        Rule::Absent => null(kind).to_owned(),
        Rule::First(keys) => {
            let each: Vec<String> = keys
                .iter()
                .map(|(key, divisor)| first(kind, map, key, *divisor))
                .collect();
            if each.len() == 1 {
                each.into_iter().next().unwrap_or_default()
            } else {
                format!("coalesce({})", each.join(", "))
            }
        }
        Rule::Always(b) => format!("toNullable(toUInt8({}))", u8::from(b)),
        Rule::Unless(key, text) => format!(
            "if(mapContains({map}, {k}), toNullable(toUInt8({map}[{k}] != {t})), NULL)",
            k = literal(key),
            t = literal(text)
        ),
        Rule::AllZero(keys) => {
            let numbers: Vec<String> = keys.iter().map(|k| number(map, k)).collect();
            let present = numbers
                .iter()
                .map(|n| format!("isNotNull({n})"))
                .collect::<Vec<_>>()
                .join(" AND ");
            let zero = numbers
                .iter()
                .map(|n| format!("{n} = 0"))
                .collect::<Vec<_>>()
                .join(" AND ");
            format!("if({present}, toNullable(toUInt8({zero})), NULL)")
        }
    }
}

/// `fact` of an event whose name is the SQL expression `name` and whose attributes are the map
/// expression `map`: a `Nullable` of the fact's type (`UInt8` for a boolean).
pub(crate) fn fact_sql(fact: Fact, name: &str, map: &str) -> String {
    let mut branches = Vec::new();
    let mut other = null(fact.kind()).to_owned();
    for row in facts::rules_of(fact) {
        let expr = rule_sql(fact, row.rule, map);
        match row.events {
            Events::Only(names) => {
                let list = names
                    .iter()
                    .map(|n| literal(n))
                    .collect::<Vec<_>>()
                    .join(", ");
                branches.push(format!("{name} IN ({list}), {expr}"));
            }
            Events::Other => {
                other = expr;
                break;
            }
        }
    }
    let expr = if branches.is_empty() {
        other
    } else {
        format!("multiIf({}, {other})", branches.join(", "))
    };
    if fact == Fact::PromptText {
        format!("nullIf({expr}, {})", literal(facts::REDACTED))
    } else {
        expr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_only_keys_that_are_safe_literals() {
        for rule in facts::FACT_RULES {
            let keys: Vec<&str> = match rule.rule {
                Rule::First(keys) => keys.iter().map(|(k, _)| *k).collect(),
                Rule::Unless(key, text) => vec![key, text],
                Rule::AllZero(keys) => keys.to_vec(),
                Rule::Absent | Rule::Always(_) => Vec::new(),
            };
            for key in keys {
                assert!(!key.contains(['\'', '\\']), "{key}");
            }
        }
    }

    #[test]
    fn rules_become_branches_in_the_table_order() {
        let sql = fact_sql(Fact::Success, "name", "a");
        let request = sql.find("'api_request'").expect("api_request");
        let hook = sql.find("'hook_execution_complete'").expect("hook");
        assert!(request < hook, "{sql}");
        assert!(sql.contains("'num_non_blocking_error'"), "{sql}");
        assert!(fact_sql(Fact::CostUsd, "name", "a").contains("/ 1000000.0"));
    }
}
