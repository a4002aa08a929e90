//! `ccscope latency`: latency you can act on, over a range — time to first token per model,
//! each tool's run time with the permission wait apart (waits and prompts need traces on), and
//! the slowest prompts with where their time went (`ccscope trace SESSION` shows one).

use std::io::Write;

use ccscope_query::latency::{self, ModelTtft, SlowPrompt, ToolLatency};
use clap::Args;
use serde::Serialize;

use crate::output::{count, table};
use crate::range::{FilterArgs, UsageError};
use crate::{DataDirArg, SourceArg, exit};

#[derive(Args, Debug)]
pub struct LatencyArgs {
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// How many of the slowest prompts to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    limit: usize,
    /// Print one JSON document: {"from", "to", "ttft": […], "tools": […], "slowest": […]}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct LatencyDoc {
    from: String,
    to: String,
    ttft: Vec<ModelTtft>,
    tools: Vec<ToolLatency>,
    slowest: Vec<SlowPrompt>,
}

fn ms(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} s", value / 1000.0)
    } else {
        format!("{value:.0} ms")
    }
}

pub fn run(args: LatencyArgs) -> anyhow::Result<u8> {
    if args.limit == 0 || args.limit > 1000 {
        return Err(UsageError("--limit must be 1 to 1000".into()).into());
    }
    let range = args.filter.range()?;
    let source = args.source.resolve(&args.data)?.open()?;
    let doc = LatencyDoc {
        from: range
            .from
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        to: range
            .to
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ttft: latency::ttft_summary(source.as_ref(), &range.filter)?,
        tools: latency::tool_latency(source.as_ref(), &range.filter)?,
        slowest: latency::slowest_prompts(source.as_ref(), &range.filter, args.limit)?,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(exit::OK);
    }
    writeln!(out, "Time to first token, {} to {}", doc.from, doc.to)?;
    let rows: Vec<Vec<String>> = doc
        .ttft
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                ms(m.p50_ms),
                ms(m.p95_ms),
                count(m.requests as f64),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(&["MODEL", "P50", "P95", "REQUESTS"], &rows)
    )?;
    writeln!(out, "\nTools (waits need traces on)")?;
    let rows: Vec<Vec<String>> = doc
        .tools
        .iter()
        .map(|t| {
            let or_dash = |n: u64, v: f64| if n == 0 { "-".to_owned() } else { ms(v) };
            vec![
                t.tool.clone(),
                count(t.runs as f64),
                or_dash(t.runs, t.run_p50_ms),
                or_dash(t.runs, t.run_p95_ms),
                count(t.waits as f64),
                or_dash(t.waits, t.wait_p50_ms),
                or_dash(t.waits, t.wait_total_ms),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(
            &[
                "TOOL", "RUNS", "RUN P50", "RUN P95", "WAITS", "WAIT P50", "WAITED"
            ],
            &rows
        )
    )?;
    writeln!(
        out,
        "\nSlowest prompts (from spans; `ccscope trace SESSION` shows one)"
    )?;
    let rows: Vec<Vec<String>> = doc
        .slowest
        .iter()
        .map(|p| {
            let t = p.time_ms;
            vec![
                p.session_id.clone(),
                ms((p.end_ns - p.start_ns) as f64 / 1e6),
                ms(t.model),
                ms(t.tools),
                ms(t.waiting_for_user),
                ms(t.other),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(
            &[
                "SESSION",
                "TOOK",
                "MODEL",
                "TOOLS",
                "WAITING FOR YOU",
                "OTHER"
            ],
            &rows
        )
    )?;
    Ok(exit::OK)
}
