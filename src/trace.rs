//! `ccscope trace SESSION`: where each prompt's time went, from Claude Code's spans — the span
//! tree with durations, and per prompt the time spent on the model, tools, waiting for the
//! developer and the rest; `--json` prints the same as one document.

use std::io::Write;

use ccscope_query::Filter;
use ccscope_query::trace::{PromptTrace, SessionTrace, SpanNode};
use clap::Args;

use crate::range::UsageError;
use crate::{DataDirArg, SourceArg, exit};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The session's id (as `ccscope sessions` lists it)
    session: String,
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    source: SourceArg,
    /// Only this prompt (its `prompt.id`)
    #[arg(long, value_name = "PROMPT_ID")]
    prompt: Option<String>,
    /// Print one JSON document: {"session_id", "prompts": [{"prompt_id", "time_ms", "spans"}]}
    #[arg(long)]
    json: bool,
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// What a span's line says after its name: the tool, the model, time to first token, an error.
fn detail(span: &SpanNode) -> String {
    let attr = |key: &str| {
        span.attributes.get(key).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    let mut parts = Vec::new();
    for (key, label) in [
        ("tool_name", ""),
        ("model", ""),
        ("ttft_ms", "first token "),
        ("decision", "decision "),
        ("stop_reason", ""),
    ] {
        if let Some(value) = attr(key) {
            let unit = if key == "ttft_ms" { " ms" } else { "" };
            parts.push(format!("{label}{value}{unit}"));
        }
    }
    if span.status_code == 2 || attr("success").as_deref() == Some("false") {
        parts.push("ERROR".into());
    }
    parts.join(", ")
}

fn print_span(
    out: &mut impl Write,
    span: &SpanNode,
    prompt_start: i64,
    depth: usize,
) -> std::io::Result<()> {
    let name = span.name.strip_prefix("claude_code.").unwrap_or(&span.name);
    let detail = detail(span);
    writeln!(
        out,
        "  {:>9.1} ms  {:>9.1} ms  {}{}{}",
        ms(span.start_ns - prompt_start),
        ms(span.end_ns - span.start_ns),
        "  ".repeat(depth),
        name,
        if detail.is_empty() {
            String::new()
        } else {
            format!("  ({detail})")
        }
    )?;
    for child in &span.children {
        print_span(out, child, prompt_start, depth + 1)?;
    }
    Ok(())
}

fn print_prompt(out: &mut impl Write, prompt: &PromptTrace) -> std::io::Result<()> {
    let t = prompt.time_ms;
    writeln!(
        out,
        "prompt {} — {:.1} ms: model {:.1}, tools {:.1}, waiting for you {:.1}, other {:.1}",
        prompt.prompt_id.as_deref().unwrap_or("(unknown)"),
        ms(prompt.end_ns - prompt.start_ns),
        t.model,
        t.tools,
        t.waiting_for_user,
        t.other
    )?;
    writeln!(out, "  {:>12}  {:>12}  span", "starts at", "takes")?;
    for span in &prompt.spans {
        print_span(out, span, prompt.start_ns, 0)?;
    }
    Ok(())
}

pub fn run(args: TraceArgs) -> anyhow::Result<u8> {
    if args.session.trim().is_empty() {
        return Err(UsageError("give a session id (ccscope sessions lists them)".into()).into());
    }
    let source = args.source.resolve(&args.data)?.open()?;
    let whole_life = Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    let mut trace: SessionTrace =
        ccscope_query::session_trace(source.as_ref(), &args.session, &whole_life)?;
    if let Some(prompt) = &args.prompt {
        trace
            .prompts
            .retain(|p| p.prompt_id.as_deref() == Some(prompt.as_str()));
        if trace.prompts.is_empty() {
            eprintln!(
                "ccscope: no spans of prompt {prompt:?} in session {:?}",
                args.session
            );
            return Ok(exit::FAILURE);
        }
    }
    if trace.prompts.is_empty() {
        eprintln!(
            "ccscope: no spans for session {:?} in {}. Claude Code sends spans with CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1 and OTEL_TRACES_EXPORTER=otlp (the Settings page's telemetry section turns them on)",
            args.session,
            source.describe()
        );
        return Ok(exit::FAILURE);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&trace)?)?;
    } else {
        writeln!(out, "session {}", trace.session_id)?;
        for prompt in &trace.prompts {
            writeln!(out)?;
            print_prompt(&mut out, prompt)?;
        }
    }
    out.flush()?;
    Ok(exit::OK)
}
