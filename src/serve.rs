//! `ccscope serve`: the store and the OTLP receiver until SIGINT/SIGTERM, then drain and flush.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use ccscope_receiver::{BearerToken, Limits, Listener, ReceiverConfig, ReceiverError};
use ccscope_server::{ServeError, Service, ServiceConfig, config};
use ccscope_store::Retention;
use clap::Args;

use crate::range::UsageError;
use crate::{DataDirArg, SourceArg, default_grpc, default_http, exit};
use ccscope_server::source::DataSource;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// With a ClickHouse URL the dashboard shows the organisation's telemetry from ClickHouse,
    /// and no OTLP receiver runs (the organisation's collector receives)
    #[command(flatten)]
    source: SourceArg,
    /// OTLP/gRPC listen address (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", env = config::ENV_OTLP_GRPC, default_value_t = default_grpc())]
    otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", env = config::ENV_OTLP_HTTP, default_value_t = default_http())]
    otlp_http: SocketAddr,
    /// Web dashboard address (loopback only)
    #[arg(long, value_name = "ADDR", env = config::ENV_UI, default_value_t = default_ui(), conflicts_with = "no_ui")]
    ui: SocketAddr,
    /// Run without the web dashboard
    #[arg(long)]
    no_ui: bool,
    /// Require this bearer token on every export (mandatory for a non-loopback address)
    #[arg(
        long,
        value_name = "TOKEN",
        env = config::ENV_OTLP_TOKEN,
        hide_env_values = true
    )]
    otlp_token: Option<String>,
    /// Delete records older than this many days (0 keeps everything)
    #[arg(long, value_name = "DAYS", default_value_t = ccscope_store::DEFAULT_RETENTION_DAYS)]
    retention_days: u32,
    /// Delete the oldest days of data while the database is larger than this (e.g. 500M, 2G; 0: no cap)
    #[arg(long, value_name = "SIZE", default_value = "2G")]
    max_db_size: String,
    /// Largest OTLP request body accepted, after decompression (e.g. 32M)
    #[arg(long, value_name = "SIZE", default_value = "32M")]
    max_request_size: String,
}

pub fn parse_size(text: &str, flag: &str) -> Result<u64, UsageError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| UsageError(format!("invalid {flag} {text:?}: use e.g. 500M or 2G")))?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => {
            return Err(UsageError(format!(
                "invalid {flag} unit in {text:?}: use K, M, G or T"
            )));
        }
    };
    Ok(n.saturating_mul(scale))
}

fn default_ui() -> SocketAddr {
    config::DEFAULT_UI_ADDR
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 4319)))
}

fn flag_of(listener: Listener) -> &'static str {
    match listener {
        Listener::Grpc => "--otlp-grpc",
        Listener::Http => "--otlp-http",
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let database = args.data.database()?;
    let source = args.source.resolve(&args.data)?;
    let organisation = matches!(source, DataSource::ClickHouse(_));
    if organisation {
        if args.no_ui {
            return Err(UsageError(
                "--source clickhouse://… serves the dashboard: drop --no-ui".into(),
            )
            .into());
        }
        // A wrong password or host fails here, not on the first chart.
        source.check()?;
    }
    let token = args
        .otlp_token
        .as_deref()
        .map(BearerToken::new)
        .transpose()
        .map_err(UsageError)?;
    let max_db = parse_size(&args.max_db_size, "--max-db-size")?;
    let max_request = parse_size(&args.max_request_size, "--max-request-size")?;
    if max_request == 0 {
        return Err(UsageError("--max-request-size must be above 0".into()).into());
    }
    let max_request = usize::try_from(max_request).unwrap_or(usize::MAX);
    let limits = Limits {
        max_body_bytes: max_request,
        max_decompressed_bytes: max_request,
        ..Limits::default()
    };
    let config = ServiceConfig {
        database: database.clone(),
        receiver: ReceiverConfig {
            grpc: (!organisation).then_some(args.otlp_grpc),
            http: (!organisation).then_some(args.otlp_http),
            token: token.clone(),
            limits,
        },
        retention: Retention {
            max_age_days: (args.retention_days > 0).then_some(args.retention_days),
            max_bytes: (max_db > 0).then_some(max_db),
        },
        ui: (!args.no_ui).then_some(args.ui),
        source: organisation.then_some(source.clone()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let service = match Service::start(config, shutdown_signal()).await {
            Ok(service) => service,
            Err(ServeError::Receiver(error @ (ReceiverError::AddrInUse { listener, .. } | ReceiverError::Bind { listener, .. }))) => {
                eprintln!("ccscope: {error}\nccscope: choose another address with {} ADDR", flag_of(listener));
                return Ok(exit::FAILURE);
            }
            Err(error @ (ServeError::UiAddrInUse { .. } | ServeError::UiBind { .. })) => {
                eprintln!("ccscope: {error}\nccscope: choose another address with --ui ADDR, or run with --no-ui");
                return Ok(exit::FAILURE);
            }
            Err(error @ ServeError::UiNotLoopback(_)) => return Err(UsageError(error.to_string()).into()),
            Err(error) => return Err(anyhow::Error::new(error)),
        };
        let mut out = std::io::stdout().lock();
        if organisation {
            writeln!(out, "ccscope {} is showing an organisation's Claude Code telemetry", env!("CARGO_PKG_VERSION"))?;
            writeln!(out, "  source     {}", source.describe())?;
        } else {
            writeln!(out, "ccscope {} is receiving Claude Code telemetry", env!("CARGO_PKG_VERSION"))?;
            writeln!(out, "  database   {}", service.database().display())?;
        }
        if let Some(addr) = service.grpc_addr {
            writeln!(out, "  OTLP/gRPC  listening on {addr}")?;
        }
        if let Some(addr) = service.http_addr {
            writeln!(out, "  OTLP/HTTP  listening on {addr}")?;
        }
        if !organisation {
            writeln!(out, "  auth       {}", if token.is_some() { "bearer token required" } else { "none (loopback only)" })?;
        }
        if let Some(url) = &service.ui_url {
            writeln!(out, "  dashboard  {url}")?;
        }
        writeln!(out, "Run `ccscope doctor` for the settings that point Claude Code here. Ctrl-C stops.")?;
        out.flush()?;
        drop(out);
        let stats = service.stopped().await;
        println!(
            "ccscope stopped: {} exports accepted ({} records), {} refused; everything acknowledged is stored",
            stats.exports_accepted, stats.records_accepted, stats.exports_refused
        );
        Ok(exit::OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("2G", "--x").expect("2G"), 2 << 30);
        assert_eq!(parse_size("500m", "--x").expect("500m"), 500 << 20);
        assert_eq!(parse_size("0", "--x").expect("0"), 0);
        assert!(parse_size("2X", "--x").is_err());
        assert!(parse_size("lots", "--x").is_err());
    }
}
