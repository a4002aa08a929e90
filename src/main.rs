//! `ccscope`: receive, store and report Claude Code's OpenTelemetry telemetry.
//! A thin binary over the crates: argument parsing, output formatting and exit codes.

mod doctor;
mod latency;
mod output;
mod query;
mod range;
mod rollups;
mod serve;
mod settings;
mod trace;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mimalloc: the receiver allocates and frees many small strings per record; glibc's malloc
/// spent a fifth of the ingest CPU on that (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed at run time (a taken port, a missing database, a problem found).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "ccscope",
    version,
    about = "Receive, store and report Claude Code's OpenTelemetry telemetry, locally.",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage error.\nLogs go to stderr; set CCSCOPE_LOG (e.g. debug) for more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct DataDirArg {
    /// Where the database lives [default: the platform data directory, e.g. ~/.local/share/ccscope]
    #[arg(long, value_name = "DIR", env = ccscope_server::config::ENV_DATA_DIR, global = true)]
    data_dir: Option<PathBuf>,
}

/// Where reading commands read from.
#[derive(Args, Debug, Clone)]
struct SourceArg {
    /// Read an organisation's ClickHouse (the OpenTelemetry Collector's clickhouseexporter
    /// tables) instead of the local store: clickhouse://[user[:password]@]host[:port]/database
    /// (clickhouses:// for HTTPS). Keep the password out of the URL with
    /// CCSCOPE_CLICKHOUSE_PASSWORD or --clickhouse-password-file
    #[arg(long, value_name = "URL", env = ccscope_server::config::ENV_SOURCE, hide_env_values = true)]
    source: Option<String>,
    /// Read the ClickHouse password from the first line of FILE
    #[arg(long, value_name = "FILE")]
    clickhouse_password_file: Option<PathBuf>,
    /// Trust the certificate authorities in FILE (PEM, e.g. a company CA) for clickhouses://,
    /// besides the system's certificate store
    #[arg(long, value_name = "FILE", env = ccscope_server::config::ENV_CLICKHOUSE_CA)]
    clickhouse_ca: Option<PathBuf>,
}

impl SourceArg {
    fn resolve(&self, data: &DataDirArg) -> anyhow::Result<ccscope_server::source::DataSource> {
        use ccscope_server::source::DataSource;
        match self.source.as_deref().filter(|s| !s.is_empty()) {
            None => {
                if self.clickhouse_password_file.is_some() {
                    anyhow::bail!("--clickhouse-password-file needs --source clickhouse://…");
                }
                Ok(DataSource::Sqlite(data.database()?))
            }
            Some(spec) => {
                let source = DataSource::clickhouse(
                    spec,
                    self.clickhouse_password_file.as_deref(),
                    std::env::var(ccscope_server::config::ENV_CLICKHOUSE_PASSWORD).ok(),
                    self.clickhouse_ca.clone(),
                )?;
                if let Some(warning) = source.cleartext_warning() {
                    eprintln!("warning: {warning}");
                }
                Ok(source)
            }
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the OTLP receiver and store until interrupted (SIGINT/SIGTERM drain and flush).
    Serve(serve::ServeArgs),
    /// Totals over a time range: cost, tokens, sessions, lines, commits, decisions, events.
    Report(query::ReportArgs),
    /// List stored events (a table, or JSON lines with --json).
    Events(query::EventsArgs),
    /// List sessions with their cost, tokens and activity.
    Sessions(query::SessionsArgs),
    /// Where a session's time went, prompt by prompt: the span tree (model, tools, waiting for
    /// you) from Claude Code's traces.
    Trace(trace::TraceArgs),
    /// Latency you can act on: time to first token per model, each tool's run time with your
    /// permission wait apart, and the slowest prompts with where their time went.
    Latency(latency::LatencyArgs),
    /// Export stored events or metric points as CSV or JSON.
    Export(query::ExportArgs),
    /// Check ports, data directory and store health; print the settings that point Claude Code here.
    Doctor(doctor::DoctorArgs),
    /// Claude Code's managed settings: show, validate, diff, apply, backups, restore.
    Settings(settings::SettingsArgs),
    /// Hourly rollups beside an organisation's ClickHouse tables, for fast fleet dashboards.
    Rollups(rollups::RollupsArgs),
}

/// Output format of listing commands.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

pub fn default_grpc() -> SocketAddr {
    ccscope_receiver::DEFAULT_GRPC_ADDR
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 4317)))
}

pub fn default_http() -> SocketAddr {
    ccscope_receiver::DEFAULT_HTTP_ADDR
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 4318)))
}

impl DataDirArg {
    /// The data directory: the flag, else the platform's data directory for ccscope.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        Ok(ccscope_server::config::platform_data_dir()?)
    }

    pub fn database(&self) -> anyhow::Result<PathBuf> {
        Ok(self.resolve()?.join(ccscope_store::DATABASE_FILE))
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CCSCOPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let serving = matches!(cli.command, Command::Serve(_));
    // Listing commands end quietly when their reader goes away (`ccscope doctor | head`), as
    // other command-line tools do. Not `serve` (it writes to sockets) nor a settings command
    // that runs the helper (it writes the document to the helper's stdin, which may close early).
    #[cfg(unix)]
    if !serving && !matches!(&cli.command, Command::Settings(args) if args.runs_helper()) {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    init_logging(if serving { "info" } else { "warn" });
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => query::report(args),
        Command::Events(args) => query::events(args),
        Command::Sessions(args) => query::sessions(args),
        Command::Trace(args) => trace::run(args),
        Command::Latency(args) => latency::run(args),
        Command::Export(args) => query::export(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Settings(args) => settings::run(args),
        Command::Rollups(args) => rollups::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let broken_pipe = error.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                // The reader stopped reading: nothing to report.
                return ExitCode::from(exit::OK);
            }
            if let Some(usage) = error.downcast_ref::<range::UsageError>() {
                eprintln!("ccscope: {usage}");
                return ExitCode::from(exit::USAGE);
            }
            eprintln!("ccscope: {error:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
