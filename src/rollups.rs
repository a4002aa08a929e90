//! `ccscope rollups`: ccscope's hourly rollups beside an organisation's ClickHouse tables —
//! create and catch up (`install`), see how far they reach (`status`), remove (`drop`).

use std::io::Write;

use anyhow::Context;
use ccscope_clickhouse::{ClickHouse, Definer, GRACE_S, RollupStatus, rollup_grants};
use ccscope_server::source::DataSource;
use clap::{Args, Subcommand};

use crate::range::{UsageError, local_time, parse_time};
use crate::{DataDirArg, SourceArg, exit};

#[derive(Args, Debug)]
pub struct RollupsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Create the rollup tables, roll up every hour that ended more than 15 minutes ago, and
    /// create the refreshable materialized views that keep them current, running as the
    /// least-privilege user --definer names (run as a user allowed to create tables and views
    /// and to SET DEFINER; ClickHouse 24.10 or later). `ccscope rollups grants` prints the SQL
    Install(InstallArgs),
    /// Print the SQL that creates the views' least-privilege definer and grants it (and the
    /// installing user) what `install` needs; run it as an administrator
    Grants(GrantsArgs),
    /// How far the rollups reach, and whether the engine keeps them current
    Status(CommonArgs),
    /// Drop ccscope's rollup tables and views (never the exporter's tables)
    Drop(CommonArgs),
}

#[derive(Args, Debug)]
struct CommonArgs {
    #[command(flatten)]
    source: SourceArg,
}

#[derive(Args, Debug)]
struct InstallArgs {
    #[command(flatten)]
    source: SourceArg,
    /// Roll up only the hours before TIME (RFC 3339, a date, or "2h" ago) and create no
    /// refreshing views: a one-off rollup, e.g. from cron
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Create no refreshing views
    #[arg(long)]
    no_refresh: bool,
    /// The ClickHouse user the refreshing views run as, forever (`DEFINER = USER SQL SECURITY
    /// DEFINER`): one with only the rights `ccscope rollups grants` prints, never an admin.
    /// Needed unless --no-refresh or --until
    #[arg(long, value_name = "USER")]
    definer: Option<String>,
    /// Drop the rollups first and roll up everything again (after rows arrived late)
    #[arg(long)]
    rebuild: bool,
}

#[derive(Args, Debug)]
struct GrantsArgs {
    #[command(flatten)]
    source: SourceArg,
    /// The user the views will run as
    #[arg(long, value_name = "USER", default_value = "ccscope_rollups")]
    definer: String,
    /// The user that will run `rollups install` [default: the user of --source]
    #[arg(long, value_name = "USER")]
    installer: Option<String>,
}

fn clickhouse(source: &SourceArg) -> anyhow::Result<ClickHouse> {
    // Rollups live in ClickHouse only; the data directory is never read.
    let data = DataDirArg { data_dir: None };
    if source.source.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!("rollups need --source clickhouse://… (or CCSCOPE_SOURCE)");
    }
    match source.resolve(&data)? {
        DataSource::ClickHouse(ch) => Ok(*ch),
        DataSource::Sqlite(_) => anyhow::bail!("rollups need --source clickhouse://…"),
    }
}

fn describe(out: &mut impl Write, status: &RollupStatus) -> std::io::Result<()> {
    if !status.tables {
        return writeln!(out, "rollups: not installed (ccscope rollups install)");
    }
    for (what, mark) in [
        ("events", status.events_mark),
        ("metric points", status.points_mark),
        ("session hours", status.sessions_mark),
    ] {
        if what == "session hours" && !status.sessions {
            writeln!(out, "{what}: no summary (ccscope rollups install adds it)")?;
        } else if mark > 0 {
            writeln!(out, "{what}: rolled up before {}", local_time(mark))?;
        } else {
            writeln!(out, "{what}: nothing rolled up yet")?;
        }
    }
    if status.views {
        writeln!(
            out,
            "refresh: the engine rolls up each hour {} minutes after it ends",
            GRACE_S / 60
        )
    } else {
        writeln!(
            out,
            "refresh: none (run `ccscope rollups install` again, or from cron, to catch up)"
        )
    }
}

pub fn run(args: RollupsArgs) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    match args.action {
        Action::Grants(a) => {
            let definer = Definer::new(&a.definer).map_err(UsageError)?;
            let ch = clickhouse(&a.source)?;
            let config = ch.config();
            let installer = a.installer.as_deref().unwrap_or(&config.user);
            writeln!(
                out,
                "-- Run as a ClickHouse administrator. {} runs the refreshing views: it cannot log in\n-- and may only read the exporter's tables and read and append to ccscope's rollups.",
                definer.name()
            )?;
            for statement in rollup_grants(config, &definer, installer) {
                writeln!(out, "{statement};")?;
            }
        }
        Action::Status(a) => {
            let ch = clickhouse(&a.source)?;
            let status = ch.rollups()?;
            describe(&mut out, &status)?;
        }
        Action::Drop(a) => {
            let ch = clickhouse(&a.source)?;
            ch.drop_rollups()?;
            writeln!(
                out,
                "dropped ccscope's rollups from {}",
                ch.config().display_url()
            )?;
        }
        Action::Install(a) => {
            let until = a
                .until
                .as_deref()
                .map(|t| parse_time(t, "--until"))
                .transpose()?
                .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX));
            let refresh = !a.no_refresh && until.is_none();
            let definer = match (&a.definer, refresh) {
                (Some(name), _) => Some(Definer::new(name).map_err(UsageError)?),
                (None, false) => None,
                (None, true) => return Err(UsageError(
                    "the refreshing views run as their definer, forever: name a least-privilege user with --definer USER (`ccscope rollups grants --definer USER` prints the SQL that creates it and what it needs), or pass --no-refresh".into(),
                ).into()),
            };
            let ch = clickhouse(&a.source)?;
            let mut err = std::io::stderr().lock();
            let installed = ch
                .install_rollups(
                    until,
                    definer.as_ref().filter(|_| refresh),
                    a.rebuild,
                    &mut |what, mark| {
                        let _ = writeln!(err, "rolled up {what} before {}", local_time(mark));
                    },
                )
                .with_context(|| format!("installing rollups in {}", ch.config().display_url()))?;
            if installed.steps == 0 && installed.status.views && !a.rebuild {
                writeln!(
                    out,
                    "rollups are installed and kept current by the engine (--rebuild recomputes them)"
                )?;
            }
            describe(&mut out, &installed.status)?;
        }
    }
    Ok(exit::OK)
}
