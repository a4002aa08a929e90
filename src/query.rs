//! The reading commands: `report`, `events`, `sessions`, `export`. Each opens the database
//! read-only, so they work while `ccscope serve` is writing.

use std::io::Write;

use anyhow::Context;
use ccscope_query::{EventQuery, EventRow, Source, SourceError};
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::output::{count, duration, money, table};
use ccscope_server::dto::{event_json, report_json, session_json};
use ccscope_server::export;

use crate::range::{FilterArgs, UsageError, local_time};
use crate::{DataDirArg, ExportFormat, SourceArg, exit};

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON (a stable shape other tools rely on)
    #[arg(long)]
    json: bool,
    /// Also split cost and tokens by this attribute: query_source, agent.name, skill.name,
    /// plugin.name, mcp_server.name, mcp_tool.name, effort, speed, vcs.repository.name, or any
    /// other (a resource attribute such as department too)
    #[arg(long, value_name = "KEY")]
    by: Option<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Only events with this name (repeatable), e.g. api_request
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
    /// Only events whose attributes contain TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    /// At most N events (the most recent ones with --newest-first)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Newest first
    #[arg(long)]
    newest_first: bool,
    /// One JSON object per line, with every attribute
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct SessionsArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print a JSON array
    #[arg(long)]
    json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportWhat {
    Events,
    Points,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Output format
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// What to export
    #[arg(long, value_enum, default_value = "events")]
    what: ExportWhat,
    /// Write to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

fn open(data: &DataDirArg, source: &SourceArg) -> anyhow::Result<Box<dyn Source>> {
    Ok(source.resolve(data)?.open()?)
}

pub fn report(args: ReportArgs) -> anyhow::Result<u8> {
    let range = args.filter.range()?;
    let reader = open(&args.data, &args.source)?;
    let report = reader.report(&range.filter)?;
    let by = match args.by.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Err(UsageError("--by takes an attribute key, e.g. query_source".into()).into());
        }
        Some(key) => Some((
            key.to_owned(),
            ccscope_query::usage_by_attribute(reader.as_ref(), key, &range.filter)?,
        )),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let from = range
            .from
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let to = range
            .to
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut doc = report_json(&report, &from, &to);
        doc.by = by
            .as_ref()
            .map(|(key, rows)| ccscope_server::dto::ByDoc::new(key, rows));
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(exit::OK);
    }
    let t = &report.tokens;
    writeln!(
        out,
        "Claude Code usage  {} → {}\n",
        local_time(range.filter.from_ns),
        local_time(range.filter.to_ns)
    )?;
    let decisions = report.edits_accepted + report.edits_rejected;
    let acceptance = if decisions > 0.0 {
        format!(
            " ({:.0}% accepted)",
            100.0 * report.edits_accepted / decisions
        )
    } else {
        String::new()
    };
    let rows = vec![
        vec!["Sessions".into(), count(report.sessions as f64)],
        vec!["Cost".into(), money(report.cost_usd)],
        vec![
            "Tokens".into(),
            format!(
                "{} total: input {} · output {} · cache read {} · cache creation {}",
                count(t.total()),
                count(t.input),
                count(t.output),
                count(t.cache_read),
                count(t.cache_creation)
            ),
        ],
        vec![
            "Lines of code".into(),
            format!(
                "+{} / -{}",
                count(report.lines_added),
                count(report.lines_removed)
            ),
        ],
        vec!["Commits".into(), count(report.commits)],
        vec!["Pull requests".into(), count(report.pull_requests)],
        vec![
            "Active time".into(),
            format!(
                "you {} · Claude Code {}",
                duration(report.active_user_s),
                duration(report.active_cli_s)
            ),
        ],
        vec![
            "Edit decisions".into(),
            format!(
                "{} accepted · {} rejected{acceptance}",
                count(report.edits_accepted),
                count(report.edits_rejected)
            ),
        ],
    ];
    write!(out, "{}", table(&[], &rows))?;
    if !report.by_model.is_empty() {
        writeln!(out, "\nBy model")?;
        let rows: Vec<Vec<String>> = report
            .by_model
            .iter()
            .map(|m| vec![m.model.clone(), money(m.cost_usd), count(m.tokens)])
            .collect();
        write!(out, "{}", table(&["MODEL", "COST", "TOKENS"], &rows))?;
    }
    if let Some((key, rows)) = &by {
        writeln!(out, "\nBy {key}")?;
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.value.clone().unwrap_or_else(|| "(none)".into()),
                    money(r.cost_usd),
                    count(r.tokens.total()),
                ]
            })
            .collect();
        write!(
            out,
            "{}",
            table(&[&key.to_uppercase(), "COST", "TOKENS"], &rows)
        )?;
    }
    if !report.events.is_empty() {
        writeln!(out, "\nEvents")?;
        let rows: Vec<Vec<String>> = report
            .events
            .iter()
            .map(|(name, n)| vec![name.clone(), count(*n as f64)])
            .collect();
        write!(out, "{}", table(&["NAME", "COUNT"], &rows))?;
    }
    if report.sessions == 0 && report.events.is_empty() {
        writeln!(
            out,
            "\nNothing received in this range. `ccscope doctor` shows how to point Claude Code here."
        )?;
    }
    Ok(exit::OK)
}

fn event_details(row: &EventRow) -> String {
    let mut parts = Vec::new();
    if let Some(tool) = &row.tool_name {
        parts.push(tool.clone());
    }
    if let Some(model) = &row.model {
        parts.push(model.clone());
    }
    if let Some(cost) = row.cost_usd {
        parts.push(money(cost));
    }
    if let Some(ms) = row.duration_ms {
        parts.push(format!("{ms:.0} ms"));
    }
    if let Some(code) = row.status_code {
        parts.push(format!("status {code}"));
    }
    if let Some(false) = row.success {
        parts.push("failed".into());
    }
    parts.join(" · ")
}

pub fn events(args: EventsArgs) -> anyhow::Result<u8> {
    let range = args.filter.range()?;
    let reader = open(&args.data, &args.source)?;
    let query = EventQuery {
        filter: range.filter,
        names: args.names,
        search: args.search,
        limit: args.limit,
        offset: 0,
        newest_first: args.newest_first,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        reader.events(&query, &mut |row| {
            writeln!(out, "{}", event_json(&row)).map_err(io_to_store)
        })?;
    } else {
        let mut rows = Vec::new();
        reader.events(&query, &mut |row| {
            rows.push(vec![
                local_time(row.time_ns),
                row.session_id.chars().take(8).collect(),
                row.name.clone(),
                event_details(&row),
            ]);
            Ok(())
        })?;
        if rows.is_empty() {
            writeln!(out, "No events in this range.")?;
        } else {
            write!(
                out,
                "{}",
                table(&["TIME", "SESSION", "EVENT", "DETAILS"], &rows)
            )?;
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

fn io_to_store(error: std::io::Error) -> SourceError {
    SourceError::Output(error)
}

pub fn sessions(args: SessionsArgs) -> anyhow::Result<u8> {
    let range = args.filter.range()?;
    let reader = open(&args.data, &args.source)?;
    let sessions = reader.sessions(&range.filter)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = sessions.iter().map(session_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(exit::OK);
    }
    if sessions.is_empty() {
        writeln!(out, "No sessions in this range.")?;
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.session_id.clone(),
                s.user_email
                    .clone()
                    .or_else(|| s.user_id.as_ref().map(|u| u.chars().take(12).collect()))
                    .unwrap_or_default(),
                local_time(s.first_ns),
                duration(((s.last_ns - s.first_ns) as f64 / 1e9).max(0.0)),
                count(s.prompts as f64),
                money(s.cost_usd),
                count(s.tokens.total()),
                s.models.join(", "),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(
            &[
                "SESSION", "USER", "STARTED", "SPAN", "PROMPTS", "COST", "TOKENS", "MODELS"
            ],
            &rows
        )
    )?;
    Ok(exit::OK)
}

pub fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let range = args.filter.range()?;
    let reader = open(&args.data, &args.source)?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::io::BufWriter::new(sink);
    let query = EventQuery {
        filter: range.filter.clone(),
        ..EventQuery::default()
    };
    let format = match args.format {
        ExportFormat::Csv => export::Format::Csv,
        ExportFormat::Json => export::Format::Json,
    };
    let mut out = match args.what {
        ExportWhat::Events => {
            let mut w = export::Writer::events(format, out)?;
            reader.events(&query, &mut |row| w.event(&row))?;
            w.finish()?
        }
        ExportWhat::Points => {
            let mut w = export::Writer::points(format, out)?;
            reader.points(&range.filter, &mut |row| w.point(&row))?;
            w.finish()?
        }
    };
    out.flush()?;
    Ok(exit::OK)
}
