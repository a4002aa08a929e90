//! Latency you can act on: time to first token by model over time, each tool's run time with
//! the developer's permission wait apart, and the slowest prompts with where their time went.
//! Sources hand over log-scale histograms (the bins of `latency_bin`) and the slowest prompt
//! spans; the percentiles and the prompts' splits are computed here, once for every source.
//!
//! Must never: give percentiles that depend on the source (both hand over the same bins); list
//! a prompt twice.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Filter, LatencySeries, bin_ms, bucket_width};
use crate::source::{Source, SourceError, session_trace};
use crate::trace::TimeSplit;

/// Counts per latency bin (`latency_bin`), any order.
pub type Histogram = Vec<(i64, u64)>;

/// Time to first token per model and bucket (`api_request`'s `ttft_ms`); one bucket, `0`,
/// when asked for buckets of width 0.
pub type TtftHistograms = BTreeMap<String, BTreeMap<i64, Histogram>>;

/// Per tool: its run times (`tool_result`'s `duration_ms`) and, where Claude Code sent spans,
/// its permission waits (`claude_code.tool.blocked_on_user` under the tool's span) with their
/// total in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolHistograms {
    pub run: BTreeMap<String, Histogram>,
    pub wait: BTreeMap<String, Histogram>,
    pub wait_total_ms: BTreeMap<String, f64>,
}

/// A prompt's span (`claude_code.interaction`) as a source finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSpan {
    pub session_id: String,
    pub span_id: String,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// p50 and p95 (ms) and the count of a histogram.
pub fn percentiles(bins: &[(i64, u64)]) -> (f64, f64, u64) {
    let mut bins = bins.to_vec();
    bins.sort_unstable();
    let total: u64 = bins.iter().map(|(_, n)| n).sum();
    let at = |p: f64| {
        let rank = (p * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bin, n) in &bins {
            seen += n;
            if seen >= rank {
                return bin_ms(*bin);
            }
        }
        0.0
    };
    (at(0.5), at(0.95), total)
}

/// Time to first token, p50 and p95 per bucket, for each model.
pub fn ttft_by_model<S: Source + ?Sized>(
    source: &S,
    filter: &Filter,
) -> Result<BTreeMap<String, LatencySeries>, SourceError> {
    let width = bucket_width(filter.from_ns, filter.to_ns);
    Ok(source
        .ttft_histograms(width, filter)?
        .into_iter()
        .map(|(model, buckets)| (model, LatencySeries::from_histograms(width, buckets)))
        .collect())
}

/// Time to first token over the whole range, for one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelTtft {
    pub model: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub requests: u64,
}

/// Time to first token over the whole range per model, most requests first.
pub fn ttft_summary<S: Source + ?Sized>(
    source: &S,
    filter: &Filter,
) -> Result<Vec<ModelTtft>, SourceError> {
    let mut rows: Vec<ModelTtft> = source
        .ttft_histograms(0, filter)?
        .into_iter()
        .map(|(model, buckets)| {
            let bins: Histogram = buckets.into_values().flatten().collect();
            let (p50_ms, p95_ms, requests) = percentiles(&bins);
            ModelTtft {
                model,
                p50_ms,
                p95_ms,
                requests,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.model.cmp(&b.model))
    });
    Ok(rows)
}

/// One tool's latency: how long it ran and how long it waited for the developer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolLatency {
    pub tool: String,
    pub runs: u64,
    pub run_p50_ms: f64,
    pub run_p95_ms: f64,
    /// Permission waits (only with traces on).
    pub waits: u64,
    pub wait_p50_ms: f64,
    pub wait_p95_ms: f64,
    pub wait_total_ms: f64,
}

/// Every tool's run and wait, most waited-for first, then most run.
pub fn tool_latency<S: Source + ?Sized>(
    source: &S,
    filter: &Filter,
) -> Result<Vec<ToolLatency>, SourceError> {
    let h = source.tool_histograms(filter)?;
    let mut tools: Vec<&String> = h.run.keys().chain(h.wait.keys()).collect();
    tools.sort();
    tools.dedup();
    let mut rows: Vec<ToolLatency> = tools
        .into_iter()
        .map(|tool| {
            let (run_p50_ms, run_p95_ms, runs) =
                percentiles(h.run.get(tool).map(Vec::as_slice).unwrap_or_default());
            let (wait_p50_ms, wait_p95_ms, waits) =
                percentiles(h.wait.get(tool).map(Vec::as_slice).unwrap_or_default());
            ToolLatency {
                tool: tool.clone(),
                runs,
                run_p50_ms,
                run_p95_ms,
                waits,
                wait_p50_ms,
                wait_p95_ms,
                wait_total_ms: h.wait_total_ms.get(tool).copied().unwrap_or(0.0),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.wait_total_ms
            .total_cmp(&a.wait_total_ms)
            .then(b.runs.cmp(&a.runs))
            .then_with(|| a.tool.cmp(&b.tool))
    });
    Ok(rows)
}

/// One of the slowest prompts, with where its time went (from its session's spans).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowPrompt {
    pub session_id: String,
    pub prompt_id: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub time_ms: TimeSplit,
}

/// The `limit` slowest prompts of the range (longest `claude_code.interaction` spans), each
/// with its split, longest first.
pub fn slowest_prompts<S: Source + ?Sized>(
    source: &S,
    filter: &Filter,
    limit: usize,
) -> Result<Vec<SlowPrompt>, SourceError> {
    let spans = source.prompt_spans(filter, limit)?;
    let mut traces = BTreeMap::new();
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        if !traces.contains_key(&span.session_id) {
            let whole_life = Filter {
                from_ns: 0,
                to_ns: i64::MAX,
                ..Filter::default()
            };
            let trace = session_trace(source, &span.session_id, &whole_life)?;
            traces.insert(span.session_id.clone(), trace);
        }
        let prompt = traces.get(&span.session_id).and_then(|t| {
            t.prompts
                .iter()
                .find(|p| p.spans.iter().any(|s| s.span_id == span.span_id))
        });
        out.push(SlowPrompt {
            prompt_id: prompt.and_then(|p| p.prompt_id.clone()),
            time_ms: prompt.map(|p| p.time_ms).unwrap_or_default(),
            session_id: span.session_id,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::latency_bin;

    #[test]
    fn percentiles_come_from_the_bins() {
        let bins: Histogram = [
            (latency_bin(100.0), 50),
            (latency_bin(1000.0), 45),
            (latency_bin(10_000.0), 5),
        ]
        .to_vec();
        let (p50, p95, n) = percentiles(&bins);
        assert_eq!(n, 100);
        // A bin is a quarter octave: a value reads back within 9 %.
        assert!((p50 - 100.0).abs() / 100.0 < 0.09, "{p50}");
        assert!((p95 - 1000.0).abs() / 1000.0 < 0.09, "{p95}");
        assert_eq!(percentiles(&[]), (0.0, 0.0, 0));
    }
}
