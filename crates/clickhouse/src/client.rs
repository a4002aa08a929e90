//! ClickHouse's HTTP interface: a query is POSTed as the body, its parameters go as
//! `param_<name>` (the server binds them into `{name:Type}` placeholders, so no value is ever
//! spliced into SQL), rows come back as JSONEachRow, one object per line. No setting is sent,
//! so a `readonly=1` user works.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use ccscope_query::SourceError;
use serde::de::DeserializeOwned;

use crate::config::Config;

/// How long connecting may take, and a whole query.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of an error body a message quotes.
const MAX_ERROR_CHARS: usize = 400;
/// ClickHouse's exception codes for a bad login, and for a missing database or table.
const AUTH_CODES: [&str; 4] = ["516", "192", "193", "194"];
const MISSING_CODES: [&str; 3] = ["60", "81", "47"];

/// A query and its bound parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub sql: String,
    pub params: Vec<(String, String)>,
}

impl Query {
    /// Binds `value` as a new String parameter and returns its placeholder.
    pub fn bind(&mut self, value: &str) -> String {
        let name = format!("p{}", self.params.len());
        self.params.push((name.clone(), value.to_owned()));
        format!("{{{name}:String}}")
    }

    /// Binds an integer parameter.
    pub fn bind_i64(&mut self, value: i64) -> String {
        let name = format!("p{}", self.params.len());
        self.params.push((name.clone(), value.to_string()));
        format!("{{{name}:Int64}}")
    }
}

#[derive(Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
    config: Config,
}

impl Client {
    pub fn new(config: Config) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(QUERY_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("ccscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent, config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends `body` with the query's parameters; the answer's body when ClickHouse accepted it.
    fn send(&self, query: &Query, body: &str) -> Result<ureq::Body, SourceError> {
        let url = self.config.display_url();
        let mut request = self
            .agent
            .post(self.config.endpoint())
            .query("database", &self.config.database)
            .header("X-ClickHouse-User", &self.config.user);
        if let Some(password) = &self.config.password {
            request = request.header("X-ClickHouse-Key", password);
        }
        for (name, value) in &query.params {
            request = request.query(format!("param_{name}"), value);
        }
        let response = request
            // No settings in the URL: a read-only user (readonly=1) may not change any.
            .send(body.as_bytes())
            .map_err(|e| transport_error(&url, e))?;
        let status = response.status().as_u16();
        let exception = response
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = response.into_body();
        if status != 200 || exception.is_some() {
            let text = body
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            return Err(server_error(
                &self.config,
                status,
                exception.as_deref(),
                &text,
            ));
        }
        Ok(body)
    }

    /// Runs a statement that returns no rows (DDL, INSERT … SELECT).
    pub fn execute(&self, query: &Query) -> Result<(), SourceError> {
        let started = std::time::Instant::now();
        let mut body = self.send(query, &query.sql)?;
        // An error after the statement started arrives in the body.
        let text = body
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if code_in(&text).is_some() {
            return Err(server_error(&self.config, 200, None, &text));
        }
        tracing::debug!(ms = started.elapsed().as_millis() as u64, sql = %query.sql, "ClickHouse statement");
        Ok(())
    }

    /// Runs a query and hands each row to `each`.
    pub fn rows<T: DeserializeOwned>(
        &self,
        query: &Query,
        mut each: impl FnMut(T) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let url = self.config.display_url();
        let started = std::time::Instant::now();
        tracing::trace!(params = ?query.params, "ClickHouse query parameters");
        let mut body = self.send(query, &format!("{}\nFORMAT JSONEachRow", query.sql))?;
        let status = 200;
        let reader = BufReader::new(body.as_reader());
        let mut rows = 0_usize;
        for line in reader.lines() {
            rows += 1;
            let line = line.map_err(|e| {
                SourceError::Unreachable(format!(
                    "reading the answer of ClickHouse at {url} failed: {e}"
                ))
            })?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<T>(&line) {
                Ok(row) => each(row)?,
                // An error after the first rows arrives as text in the body.
                Err(_) if line.starts_with("Code:") => {
                    return Err(server_error(&self.config, status, None, &line));
                }
                Err(e) => {
                    return Err(SourceError::Backend(format!(
                        "ClickHouse at {url} sent a row ccscope cannot read ({e}): {}",
                        clip(&line)
                    )));
                }
            }
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            rows,
            sql = %query.sql,
            "ClickHouse query"
        );
        Ok(())
    }

    /// Runs a query and collects its rows.
    pub fn all<T: DeserializeOwned>(&self, query: &Query) -> Result<Vec<T>, SourceError> {
        let mut out = Vec::new();
        self.rows(query, |row| {
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    }
}

fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn transport_error(url: &str, error: ureq::Error) -> SourceError {
    let detail = match &error {
        ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
        ureq::Error::ConnectionFailed => "the connection was refused or failed".to_owned(),
        ureq::Error::Timeout(_) => "it did not answer in time".to_owned(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    SourceError::Unreachable(format!(
        "cannot reach ClickHouse at {url}: {detail}. Check the host and port of --source (ClickHouse's HTTP interface, usually 8123)"
    ))
}

/// The exception code in a ClickHouse error text (`Code: 60. DB::Exception: …`).
fn code_in(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("Code: ")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()
}

fn server_error(config: &Config, status: u16, code: Option<&str>, text: &str) -> SourceError {
    let url = config.display_url();
    let code = code.or_else(|| code_in(text));
    let message = clip(text);
    if status == 401 || status == 403 || code.is_some_and(|c| AUTH_CODES.contains(&c)) {
        return SourceError::Unauthorized(format!(
            "ClickHouse at {url} refused user {:?}: {message}. Check the user and password (CCSCOPE_CLICKHOUSE_PASSWORD)",
            config.user
        ));
    }
    if code.is_some_and(|c| MISSING_CODES.contains(&c)) {
        return SourceError::NoData(format!(
            "ClickHouse at {url} has no such database or table: {message}"
        ));
    }
    SourceError::Backend(format!(
        "ClickHouse at {url} answered HTTP {status}: {message}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_the_text() {
        assert_eq!(
            code_in("Code: 60. DB::Exception: Unknown table"),
            Some("60")
        );
        assert_eq!(code_in("nothing"), None);
    }

    #[test]
    fn errors_are_classified_and_never_show_the_password() {
        let config = Config::parse("clickhouse://u:hunter2@h:1/db").expect("url");
        let auth = server_error(
            &config,
            401,
            Some("516"),
            "Code: 516. Authentication failed",
        );
        assert!(matches!(auth, SourceError::Unauthorized(_)));
        let missing = server_error(&config, 404, None, "Code: 60. DB::Exception: Unknown table");
        assert!(matches!(missing, SourceError::NoData(_)));
        let other = server_error(&config, 500, None, "Code: 241. Memory limit");
        assert!(matches!(other, SourceError::Backend(_)));
        for e in [auth, missing, other] {
            let text = e.to_string();
            assert!(text.contains("clickhouse://u@h:1/db"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
