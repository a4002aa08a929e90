//! `clickhouse://[user[:password]@]host[:port]/database` (HTTP) and `clickhouses://…` (HTTPS).

use percent_encoding::percent_decode_str;

/// ClickHouse's HTTP port, and its HTTPS port.
pub const DEFAULT_HTTP_PORT: u16 = 8123;
pub const DEFAULT_HTTPS_PORT: u16 = 8443;
/// The database the Collector's exporter writes to unless configured otherwise.
pub const DEFAULT_DATABASE: &str = "otel";

/// Where and as whom to read.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// Table names (the exporter's defaults unless the URL says `?logs_table=…&sums_table=…`).
    pub logs_table: String,
    pub sums_table: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_url())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{0:?} is not a ClickHouse URL: use clickhouse://[user[:password]@]host[:port]/database"
    )]
    NotClickHouse(String),
    #[error("invalid ClickHouse URL {url}: {reason}")]
    Invalid { url: String, reason: String },
}

fn identifier_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl Config {
    /// True when `text` names a ClickHouse source (rather than a SQLite data directory).
    pub fn is_clickhouse_url(text: &str) -> bool {
        text.starts_with("clickhouse://") || text.starts_with("clickhouses://")
    }

    /// Parses a source URL. The password, when the URL has none, may be given later
    /// (`with_password`), so it need not appear on a command line.
    pub fn parse(url: &str) -> Result<Config, ConfigError> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("clickhouse://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("clickhouses://") {
            (true, rest)
        } else {
            return Err(ConfigError::NotClickHouse(redact(url)));
        };
        let invalid = |reason: &str| ConfigError::Invalid {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let decode = |s: &str| -> Result<String, ConfigError> {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| invalid("the user or password is not valid UTF-8 once decoded"))
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (decode(u)?, Some(decode(p)?)),
                None => (decode(info)?, None),
            },
            None => ("default".to_owned(), None),
        };
        if user.is_empty() {
            return Err(invalid("the user name is empty"));
        }
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (h, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address needs its closing ]"))?;
            (format!("[{h}]"), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(invalid("the host name is missing or malformed"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
            None if secure => DEFAULT_HTTPS_PORT,
            None => DEFAULT_HTTP_PORT,
        };
        let database = match path.trim_end_matches('/') {
            "" => DEFAULT_DATABASE.to_owned(),
            db if identifier_ok(db) => db.to_owned(),
            _ => {
                return Err(invalid(
                    "the database name may hold only letters, digits, _ - and .",
                ));
            }
        };
        let mut config = Config {
            secure,
            host,
            port,
            user,
            password,
            database,
            logs_table: "otel_logs".into(),
            sums_table: "otel_metrics_sum".into(),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            match key {
                "logs_table" | "sums_table" if identifier_ok(&value) => {
                    if key == "logs_table" {
                        config.logs_table = value;
                    } else {
                        config.sums_table = value;
                    }
                }
                "logs_table" | "sums_table" => {
                    return Err(invalid(
                        "a table name may hold only letters, digits, _ - and .",
                    ));
                }
                other => {
                    return Err(invalid(&format!(
                        "unknown option {other:?} (known: logs_table, sums_table)"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// Sets the password unless the URL carried one.
    pub fn with_password(mut self, password: Option<String>) -> Config {
        if self.password.is_none() {
            self.password = password;
        }
        self
    }

    /// The HTTP endpoint queries are posted to.
    pub(crate) fn endpoint(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}:{}/", self.host, self.port)
    }

    /// The URL as messages show it: never the password.
    pub fn display_url(&self) -> String {
        let scheme = if self.secure {
            "clickhouses"
        } else {
            "clickhouse"
        };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

/// A URL as given, with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((info, host)) if info.contains(':') => {
            let user = info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_urls_parse() {
        let c = Config::parse("clickhouse://ana:p%40ss@ch.example:9000/telemetry").expect("url");
        assert_eq!(c.user, "ana");
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!((c.host.as_str(), c.port), ("ch.example", 9000));
        assert_eq!(c.database, "telemetry");
        assert_eq!(c.endpoint(), "http://ch.example:9000/");
        assert!(!c.display_url().contains("p@ss"));
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let c = Config::parse("clickhouse://localhost").expect("url");
        assert_eq!(
            (c.user.as_str(), c.port, c.database.as_str()),
            ("default", 8123, "otel")
        );
        assert_eq!(c.password, None);
        let s = Config::parse("clickhouses://[::1]/x?logs_table=logs_v2").expect("url");
        assert_eq!(
            (s.host.as_str(), s.port, s.logs_table.as_str()),
            ("[::1]", 8443, "logs_v2")
        );
        assert_eq!(
            Config::parse("clickhouse://h/db")
                .expect("url")
                .with_password(Some("pw".into()))
                .password
                .as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn bad_urls_are_refused_without_their_password() {
        for bad in [
            "clickhouse://u:secret@/db",
            "clickhouse://u:secret@h:0/db",
            "clickhouse://u:secret@h:99999/db",
            "clickhouse://u:secret@h/db;drop",
            "clickhouse://u:secret@h/db?colour=red",
        ] {
            let e = Config::parse(bad).expect_err(bad).to_string();
            assert!(!e.contains("secret"), "{e}");
            assert!(e.contains("u:***@"), "{e}");
        }
        assert!(matches!(
            Config::parse("postgres://h/db"),
            Err(ConfigError::NotClickHouse(_))
        ));
    }
}
