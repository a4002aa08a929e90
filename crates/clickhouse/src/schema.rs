//! Which of the exporter's columns a database has: versions differ (`EventName` is newer,
//! `TimestampTime` was dropped, time columns are `DateTime64(9)` or `DateTime`), so columns are
//! read by name and optional ones detected.

use std::collections::{HashMap, HashSet};

use ccscope_query::SourceError;
use serde::Deserialize;

use crate::client::{Client, Query};

/// Columns a reader cannot do without.
const LOGS_REQUIRED: [&str; 4] = ["Timestamp", "Body", "LogAttributes", "ResourceAttributes"];
const SUMS_REQUIRED: [&str; 6] = [
    "MetricName",
    "Attributes",
    "ResourceAttributes",
    "StartTimeUnix",
    "TimeUnix",
    "Value",
];

/// What the tables look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    /// The logs table has `EventName` (exporter versions from 2025 on).
    pub logs_event_name: bool,
    /// The sums table has `AggregationTemporality` (without it every sum is taken as delta).
    pub sums_temporality: bool,
    /// The traces table exists (the Collector creates it only with a traces pipeline); without
    /// it there are no spans.
    pub traces: bool,
    /// The sums table has `MetricUnit`.
    pub sums_unit: bool,
}

#[derive(Deserialize)]
struct ColumnRow {
    table: String,
    name: String,
}

impl Schema {
    pub fn detect(client: &Client) -> Result<Schema, SourceError> {
        let config = client.config();
        let mut query = Query::default();
        let db = query.bind(&config.database);
        let logs = query.bind(&config.logs_table);
        let sums = query.bind(&config.sums_table);
        let traces = query.bind(&config.traces_table);
        query.sql = format!(
            "SELECT table, name FROM system.columns WHERE database = {db} AND table IN ({logs}, {sums}, {traces})"
        );
        let mut columns: HashMap<String, HashSet<String>> = HashMap::new();
        client.rows(&query, |row: ColumnRow| {
            columns.entry(row.table).or_default().insert(row.name);
            Ok(())
        })?;
        let url = config.display_url();
        let mut missing_tables = Vec::new();
        for table in [&config.logs_table, &config.sums_table] {
            if !columns.contains_key(table.as_str()) {
                missing_tables.push(format!("{}.{table}", config.database));
            }
        }
        if !missing_tables.is_empty() {
            return Err(SourceError::NoData(format!(
                "ClickHouse at {url} has no table {}: point the OpenTelemetry Collector's clickhouseexporter at database {:?} (it creates the tables), or name the tables with ?logs_table=…&sums_table=…",
                missing_tables.join(" or "),
                config.database
            )));
        }
        let empty = HashSet::new();
        let logs = columns.get(config.logs_table.as_str()).unwrap_or(&empty);
        let sums = columns.get(config.sums_table.as_str()).unwrap_or(&empty);
        for (table, have, required) in [
            (&config.logs_table, logs, &LOGS_REQUIRED[..]),
            (&config.sums_table, sums, &SUMS_REQUIRED[..]),
        ] {
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|c| !have.contains(*c))
                .collect();
            if !missing.is_empty() {
                return Err(SourceError::Backend(format!(
                    "table {}.{table} at {url} is not an OpenTelemetry exporter table: it lacks {}",
                    config.database,
                    missing.join(", ")
                )));
            }
        }
        Ok(Schema {
            logs_event_name: logs.contains("EventName"),
            sums_temporality: sums.contains("AggregationTemporality"),
            sums_unit: sums.contains("MetricUnit"),
            traces: columns.contains_key(config.traces_table.as_str()),
        })
    }
}
