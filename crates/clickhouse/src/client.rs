//! ClickHouse's HTTP interface: a query is POSTed as the body, its parameters go as
//! `param_<name>` (the server binds them into `{name:Type}` placeholders, so no value is ever
//! spliced into SQL), rows come back as JSONEachRow, one object per line. No setting is sent,
//! so a `readonly=1` user works.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use ccscope_query::SourceError;
use serde::de::DeserializeOwned;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, parse_pem};

use crate::config::{Config, ConfigError};

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
    /// Binds `value` as a new String parameter and returns its placeholder. ClickHouse parses
    /// an HTTP parameter's value as escaped text (TSV's `Escaped` format), so the value is
    /// escaped here: the server then binds exactly `value`.
    pub fn bind(&mut self, value: &str) -> String {
        let name = format!("p{}", self.params.len());
        self.params.push((name.clone(), escape_param(value)));
        format!("{{{name}:String}}")
    }

    /// Binds an integer parameter.
    pub fn bind_i64(&mut self, value: i64) -> String {
        let name = format!("p{}", self.params.len());
        self.params.push((name.clone(), value.to_string()));
        format!("{{{name}:Int64}}")
    }
}

/// `value` in ClickHouse's escaped-text form, which it reads back as `value` exactly.
fn escape_param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
    config: Config,
}

/// The certificate authorities HTTPS trusts: the system's store (where a company's CA is
/// usually installed), plus those of `--clickhouse-ca` when given.
fn root_certs(config: &Config) -> Result<RootCerts, ConfigError> {
    let Some(path) = &config.ca_file else {
        return Ok(RootCerts::PlatformVerifier);
    };
    let fail = |reason: String| ConfigError::CaFile {
        path: path.clone(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut certs = Vec::new();
    for item in parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item.map_err(|e| fail(e.to_string()))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(fail(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let system = rustls_native_certs::load_native_certs();
    certs.extend(
        system
            .certs
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
    );
    Ok(RootCerts::new_with_certs(&certs))
}

impl Client {
    pub fn new(config: Config) -> Result<Client, ConfigError> {
        let tls = TlsConfig::builder()
            .root_certs(root_certs(&config)?)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(QUERY_TIMEOUT))
            .http_status_as_error(false)
            // A redirect would carry the credential headers to whatever host it names (and
            // from HTTPS to HTTP): none is followed; a 3xx is an error naming its Location.
            .max_redirects(0)
            .tls_config(tls)
            .user_agent(concat!("ccscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { agent, config })
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
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get("Location")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "nowhere".to_owned(), clip);
            return Err(SourceError::Backend(format!(
                "ClickHouse at {url} answered HTTP {status}, a redirect to {location}: not followed, since it would carry the credentials there. Give the address it names in --source if it is yours"
            )));
        }
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
                // Not a row, and perhaps not ClickHouse: nothing of a foreign body is echoed.
                Err(e) => {
                    return Err(SourceError::Backend(format!(
                        "{url} sent a line ccscope cannot read as a row ({e}; {} bytes, not shown): is it ClickHouse's HTTP interface?",
                        line.len()
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

/// What a message may quote of an error body: ClickHouse's own error text (`Code: N.
/// DB::Exception: …`), and nothing of any other body, which may come from any host.
fn quotable(text: &str) -> String {
    let trimmed = text.trim();
    if code_in(trimmed).is_some() && trimmed.contains("DB::Exception") {
        clip(trimmed)
    } else {
        format!(
            "an answer that is not ClickHouse's error format ({} bytes, not shown)",
            text.len()
        )
    }
}

fn server_error(config: &Config, status: u16, code: Option<&str>, text: &str) -> SourceError {
    let url = config.display_url();
    let code = code.or_else(|| code_in(text));
    let message = quotable(text);
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

    #[test]
    fn a_foreign_body_is_never_echoed() {
        let config = Config::parse("clickhouse://u@h:1/db").expect("url");
        for body in [
            "<html><title>secret intranet page</title></html>",
            "Code: 12 secret intranet page",
            "{\"token\": \"secret intranet page\"}",
        ] {
            for status in [401, 404, 500, 502] {
                let text = server_error(&config, status, None, body).to_string();
                assert!(!text.contains("secret"), "{text}");
                assert!(
                    text.contains(&format!("{} bytes, not shown", body.len())),
                    "{text}"
                );
            }
        }
        let own =
            "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)";
        assert!(
            server_error(&config, 500, None, own)
                .to_string()
                .contains("Memory limit")
        );
    }

    #[test]
    fn parameters_are_escaped_as_clickhouse_reads_them() {
        assert_eq!(escape_param("C:\\tools"), "C:\\\\tools");
        assert_eq!(escape_param("a\tb\nc\\"), "a\\tb\\nc\\\\");
        assert_eq!(escape_param("it's \"q\""), "it's \"q\"");
    }
}
