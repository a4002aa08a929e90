//! Time ranges and filters shared by the reading commands: `--since 7d`, `--from/--to`,
//! `--session`, `--user`, `--model`, `--attr key=value`.

use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use clap::Args;

use ccscope_query::Filter;

/// A command-line value that is wrong: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only the last DURATION (e.g. 30m, 24h, 7d, 4w), or `all` [default: 7d unless --from is given]
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub since: Option<String>,
    /// Start of the range: RFC 3339 (2026-11-24T10:00:00Z) or a local date (2026-11-24)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the range, exclusive [default: now]
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Only this session id
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only this user (user.id or user.email)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only this model (as sent, e.g. claude-opus-4-8[1m], or its plain name)
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Only records whose attribute or resource attribute KEY equals VALUE (repeatable)
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
}

/// A resolved range with the filter that goes to the store.
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filter: Filter,
}

pub fn parse_duration(text: &str) -> Result<chrono::Duration, UsageError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        UsageError(format!(
            "invalid duration {text:?}: use a number and a unit, e.g. 30m, 24h, 7d"
        ))
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(UsageError(format!(
                "invalid duration unit in {text:?}: use s, m, h, d or w"
            )));
        }
    };
    Ok(chrono::Duration::seconds(n.saturating_mul(seconds)))
}

pub fn parse_time(text: &str, flag: &str) -> Result<DateTime<Utc>, UsageError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| UsageError(format!("invalid date {text:?}")))?;
        if let Some(t) = Local.from_local_datetime(&midnight).earliest() {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(UsageError(format!(
        "invalid {flag} {text:?}: use RFC 3339 (2026-11-24T10:00:00Z) or a date (2026-11-24)"
    )))
}

impl FilterArgs {
    pub fn range(&self) -> Result<Range, UsageError> {
        let now = Utc::now();
        let to = match &self.to {
            Some(t) => parse_time(t, "--to")?,
            None => now,
        };
        let from = match (&self.from, self.since.as_deref()) {
            (Some(f), _) => parse_time(f, "--from")?,
            (None, Some("all")) => DateTime::<Utc>::UNIX_EPOCH,
            (None, Some(d)) => to - parse_duration(d)?,
            (None, None) => to - chrono::Duration::days(7),
        };
        if from >= to {
            return Err(UsageError(format!(
                "the range is empty: --from {from} is not before --to {to}"
            )));
        }
        let mut attributes = Vec::new();
        for pair in &self.attributes {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| UsageError(format!("invalid --attr {pair:?}: use KEY=VALUE")))?;
            if k.is_empty() || k.contains('"') || k.contains('\\') {
                return Err(UsageError(format!("invalid --attr key {k:?}")));
            }
            attributes.push((k.to_owned(), v.to_owned()));
        }
        Ok(Range {
            from,
            to,
            filter: Filter {
                from_ns: from.timestamp_nanos_opt().unwrap_or(0),
                to_ns: to.timestamp_nanos_opt().unwrap_or(i64::MAX),
                session: self.session.clone(),
                user: self.user.clone(),
                model: self.model.clone(),
                attributes,
            },
        })
    }
}

/// Formats Unix nanoseconds in local time for tables.
pub fn local_time(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns)
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_garbage() {
        assert_eq!(parse_duration("7d").expect("7d").num_seconds(), 7 * 86_400);
        assert_eq!(parse_duration("30m").expect("30m").num_seconds(), 1800);
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }

    #[test]
    fn times_parse_as_rfc3339_or_dates() {
        assert_eq!(
            parse_time("2026-11-24T10:00:00Z", "--from")
                .expect("rfc")
                .timestamp(),
            1_795_514_400
        );
        assert!(parse_time("2026-11-24", "--from").is_ok());
        assert!(parse_time("yesterday", "--from").is_err());
    }

    #[test]
    fn ranges_and_attributes_are_checked() {
        let args = FilterArgs {
            since: Some("all".into()),
            attributes: vec!["department=eng".into()],
            ..Default::default()
        };
        let range = args.range().expect("valid");
        assert_eq!(range.filter.from_ns, 0);
        assert_eq!(
            range.filter.attributes,
            vec![("department".to_owned(), "eng".to_owned())]
        );
        let bad = FilterArgs {
            attributes: vec!["novalue".into()],
            ..Default::default()
        };
        assert!(bad.range().is_err());
        let empty = FilterArgs {
            from: Some("2026-11-24T10:00:00Z".into()),
            to: Some("2026-11-24T09:00:00Z".into()),
            ..Default::default()
        };
        assert!(empty.range().is_err());
    }
}
