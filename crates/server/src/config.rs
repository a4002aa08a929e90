//! One resolution of where ccscope stores and listens, shared by the CLI (whose flags override
//! it) and the desktop app: the environment variables' names, the platform data directory, and
//! the default addresses.
//!
//! Must never: read a variable under a name the README does not list.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The data directory (the database lives in it).
pub const ENV_DATA_DIR: &str = "CCSCOPE_DATA_DIR";
/// The OTLP/gRPC listen address.
pub const ENV_OTLP_GRPC: &str = "CCSCOPE_OTLP_GRPC";
/// The OTLP/HTTP listen address.
pub const ENV_OTLP_HTTP: &str = "CCSCOPE_OTLP_HTTP";
/// The dashboard's listen address.
pub const ENV_UI: &str = "CCSCOPE_UI";
/// The bearer token OTLP senders must present.
pub const ENV_OTLP_TOKEN: &str = "CCSCOPE_OTLP_TOKEN";
/// Where reading commands and the dashboard read from: a ClickHouse URL (else the data directory).
pub const ENV_SOURCE: &str = "CCSCOPE_SOURCE";
/// The ClickHouse password, so it need not sit in the URL or argv.
pub const ENV_CLICKHOUSE_PASSWORD: &str = "CCSCOPE_CLICKHOUSE_PASSWORD";
/// A PEM file of certificate authorities ClickHouse's HTTPS is trusted with besides the
/// system's store (`--clickhouse-ca`): a company CA.
pub const ENV_CLICKHOUSE_CA: &str = "CCSCOPE_CLICKHOUSE_CA";

/// `CCSCOPE_CLICKHOUSE_CA`, when set and not empty.
pub fn clickhouse_ca_from_env() -> Option<PathBuf> {
    std::env::var_os(ENV_CLICKHOUSE_CA)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The dashboard's default address for `ccscope serve` (the desktop app picks a free port).
pub const DEFAULT_UI_ADDR: &str = "127.0.0.1:4319";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value} is not an address like 127.0.0.1:4318")]
    BadAddress { name: &'static str, value: String },
    #[error("cannot find a home directory for the data; set {ENV_DATA_DIR} or pass --data-dir")]
    NoDataDir,
}

/// The platform's data directory for ccscope (e.g. `~/.local/share/ccscope`).
pub fn platform_data_dir() -> Result<PathBuf, ConfigError> {
    directories::ProjectDirs::from("dev", "ccscope", "ccscope")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(ConfigError::NoDataDir)
}

/// `$CCSCOPE_DATA_DIR` when set and not empty, else the platform's data directory.
pub fn data_dir_from_env() -> Result<PathBuf, ConfigError> {
    match std::env::var_os(ENV_DATA_DIR).filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => platform_data_dir(),
    }
}

/// The address in variable `name`, or `default` when it is unset or empty.
pub fn addr_from_env(name: &'static str, default: &str) -> Result<SocketAddr, ConfigError> {
    let value = std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::BadAddress { name, value })
}

/// Where a ccscope service stores and listens, resolved from the environment and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub data_dir: PathBuf,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub ui: SocketAddr,
}

impl Resolved {
    /// From the environment, with `ui_default` for the dashboard (the desktop app passes port
    /// 0: only its own window, which holds the launch token, uses it).
    pub fn from_env(ui_default: &str) -> Result<Resolved, ConfigError> {
        Ok(Resolved {
            data_dir: data_dir_from_env()?,
            grpc: addr_from_env(ENV_OTLP_GRPC, ccscope_receiver::DEFAULT_GRPC_ADDR)?,
            http: addr_from_env(ENV_OTLP_HTTP, ccscope_receiver::DEFAULT_HTTP_ADDR)?,
            ui: addr_from_env(ENV_UI, ui_default)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_variables_fall_back_and_bad_ones_name_themselves() {
        assert_eq!(
            addr_from_env("CCSCOPE_TEST_UNSET_ADDR", "127.0.0.1:4318").unwrap(),
            "127.0.0.1:4318".parse().unwrap()
        );
        let error = addr_from_env("CCSCOPE_TEST_UNSET_ADDR", "nonsense").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("CCSCOPE_TEST_UNSET_ADDR=nonsense")
        );
    }
}
