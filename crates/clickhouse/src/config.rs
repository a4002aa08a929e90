//! `clickhouse://[user[:password]@]host[:port]/database` (HTTP) and `clickhouses://…` (HTTPS).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

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
    /// The spans' table (`?traces_table=…`; the exporter's `otel_traces` by default).
    pub traces_table: String,
    /// A PEM file of certificate authorities trusted besides the system's store
    /// (`--clickhouse-ca`, e.g. a company CA); `None`: the system's store alone.
    pub ca_file: Option<PathBuf>,
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
    #[error("cannot use the ClickHouse CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
}

/// Whether `host` (as parsed: a DNS name, an IPv4 address or a bracketed IPv6 address) is a
/// DNS name of at most 253 characters in labels of letters, digits, `-` and `_`.
fn dns_name_ok(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
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
        // The user information ends at the last `@`: a password may hold `/`, `?` or `@`
        // unencoded, and nothing after the host may hold an `@`.
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, rest),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (hostport, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
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
            if h.parse::<Ipv6Addr>().is_err() {
                return Err(invalid(&format!("[{h}] is not an IPv6 address")));
            }
            let port =
                match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or_else(|| {
                        invalid("after an IPv6 address's ] only :port may follow")
                    })?),
                };
            (format!("[{}]", h.to_ascii_lowercase()), port)
        } else {
            let (h, p) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            };
            // A DNS name or an IPv4 address, nothing else: `host#.corp.example` would reach
            // `host` while every message named the other.
            if h.is_empty() {
                return Err(invalid("the host name is missing"));
            }
            if h.parse::<Ipv4Addr>().is_err() && !dns_name_ok(h) {
                return Err(invalid(&format!(
                    "{h:?} is not a host name (letters, digits, - and _ in dot-separated labels), an IPv4 address or a bracketed IPv6 address"
                )));
            }
            (h.to_ascii_lowercase(), p)
        };
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
            traces_table: "otel_traces".into(),
            ca_file: None,
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            match key {
                "logs_table" | "sums_table" | "traces_table" if identifier_ok(&value) => {
                    match key {
                        "logs_table" => config.logs_table = value,
                        "sums_table" => config.sums_table = value,
                        _ => config.traces_table = value,
                    }
                }
                "logs_table" | "sums_table" | "traces_table" => {
                    return Err(invalid(
                        "a table name may hold only letters, digits, _ - and .",
                    ));
                }
                other => {
                    return Err(invalid(&format!(
                        "unknown option {other:?} (known: logs_table, sums_table, traces_table)"
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

    /// Trusts the certificate authorities in `path` (PEM) besides the system's store.
    pub fn with_ca_file(mut self, path: Option<PathBuf>) -> Config {
        self.ca_file = path;
        self
    }

    /// A warning when the password would cross the network in clear: plain HTTP to a host
    /// that is not this machine.
    pub fn cleartext_warning(&self) -> Option<String> {
        if self.secure || self.password.is_none() || is_loopback(&self.host) {
            return None;
        }
        Some(format!(
            "the ClickHouse password goes to {}:{} unencrypted (clickhouse:// is plain HTTP): anyone on the network path can read it. Use clickhouses:// (HTTPS, port {DEFAULT_HTTPS_PORT}), with --clickhouse-ca FILE for a company CA",
            self.host, self.port
        ))
    }

    /// The HTTP endpoint queries are posted to, built from the parsed parts.
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

/// A URL as given, with whatever could be a password replaced by `***`: everything between
/// the user's `:` and the last `@` (a password may hold `/`, `?`, `#` or `@`), or, without an
/// `@`, a port that is not a number (`user:password` with the host forgotten).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    if let Some((info, after)) = rest.rsplit_once('@') {
        return match info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{after}"),
            None => url.to_owned(),
        };
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once(':') {
        Some((host, port)) if !port.chars().all(|c| c.is_ascii_digit()) => {
            format!("{scheme}://{host}:***{}", &rest[authority_end..])
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

    #[test]
    fn a_password_holding_url_characters_is_never_shown() {
        for (bad, secret) in [
            ("clickhouse://u:pa/ss@h:0/db", "pa/ss"),
            ("clickhouse://u:p?ss@h/db;x", "p?ss"),
            ("clickhouse://u:a@b/c?d@h:99999/db", "a@b/c?d"),
            ("clickhouse://u:p#w@h#x/db", "p#w"),
            ("clickhouse://u:secret/db", "secret"),
            ("clickhouse://u:sec ret/db", "sec ret"),
        ] {
            let e = Config::parse(bad).expect_err(bad).to_string();
            assert!(!e.contains(secret), "{bad}: {e}");
            assert!(e.contains("***"), "{bad}: {e}");
        }
        // Unencoded, they still parse, and the password is the whole of it.
        let c = Config::parse("clickhouses://u:a/b?c@d@h.example/db").expect("url");
        assert_eq!(c.password.as_deref(), Some("a/b?c@d"));
        assert_eq!((c.host.as_str(), c.database.as_str()), ("h.example", "db"));
    }

    #[test]
    fn only_dns_names_and_ip_addresses_are_hosts() {
        for bad in [
            "clickhouse://ana@192.0.2.2#.corp.example:8123/otel",
            "clickhouse://h\\x/db",
            "clickhouse://h%2ex/db",
            "clickhouse://-h/db",
            "clickhouse://h..example/db",
            "clickhouse://[::g]/db",
            "clickhouse://[::1]x/db",
            "clickhouse://[::1]:/db",
            "clickhouse://h:/db",
        ] {
            let e = Config::parse(bad).expect_err(bad);
            assert!(matches!(e, ConfigError::Invalid { .. }), "{bad}: {e}");
        }
        for (good, host, port) in [
            (
                "clickhouse://ana@Ch.Corp.Example:8123/otel",
                "ch.corp.example",
                8123,
            ),
            ("clickhouse://192.0.2.2/otel", "192.0.2.2", 8123),
            (
                "clickhouses://[2001:DB8::1]:9443/otel",
                "[2001:db8::1]",
                9443,
            ),
            ("clickhouse://ch_1.internal/otel", "ch_1.internal", 8123),
        ] {
            let c = Config::parse(good).expect(good);
            assert_eq!((c.host.as_str(), c.port), (host, port), "{good}");
            let scheme = if c.secure { "https" } else { "http" };
            assert_eq!(c.endpoint(), format!("{scheme}://{host}:{port}/"));
        }
    }

    #[test]
    fn a_password_in_clear_to_another_host_is_warned_of() {
        let warn = |url: &str| Config::parse(url).expect(url).cleartext_warning();
        let w = warn("clickhouse://u:pw@ch.corp.example/otel").expect("warned");
        assert!(
            w.contains("ch.corp.example:8123") && w.contains("clickhouses://"),
            "{w}"
        );
        assert!(!w.contains("pw@"), "{w}");
        for quiet in [
            "clickhouses://u:pw@ch.corp.example/otel",
            "clickhouse://u@ch.corp.example/otel",
            "clickhouse://u:pw@localhost/otel",
            "clickhouse://u:pw@127.0.0.2/otel",
            "clickhouse://u:pw@[::1]/otel",
        ] {
            assert_eq!(warn(quiet), None, "{quiet}");
        }
        let later = Config::parse("clickhouse://u@10.1.2.3/otel")
            .expect("url")
            .with_password(Some("pw".into()));
        assert!(later.cleartext_warning().is_some());
    }
}
