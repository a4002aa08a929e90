//! Where a prompt's time went: a session's spans (Claude Code's beta traces) as one tree per
//! prompt, and each prompt's time split into the model, tools, waiting for the developer and
//! the rest. Engine-neutral: every source hands its spans to `build`.
//!
//! Must never: drop a span or show one twice (every span of the session is in exactly one
//! tree); count a moment twice in the split (the four parts add up to the prompt's duration).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

/// The span Claude Code opens for each prompt, from the prompt to the last answer.
pub const INTERACTION_SPAN: &str = "claude_code.interaction";
/// A request to the model (time to first token in `ttft_ms`).
pub const LLM_REQUEST_SPAN: &str = "claude_code.llm_request";
/// A tool call, from the model's request to its result (waiting and running).
pub const TOOL_SPAN: &str = "claude_code.tool";
/// Inside a tool call: waiting for the developer's permission.
pub const BLOCKED_ON_USER_SPAN: &str = "claude_code.tool.blocked_on_user";
/// Inside a tool call: running it.
pub const TOOL_EXECUTION_SPAN: &str = "claude_code.tool.execution";

/// One stored span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
    /// OTLP's status code: 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    pub attributes: serde_json::Value,
}

/// A span with the spans it started, in start order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanNode {
    pub name: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    /// OTLP's status code: 1 ok, 2 error; left out when unset (0).
    #[serde(skip_serializing_if = "is_unset")]
    pub status_code: i64,
    pub attributes: serde_json::Value,
    pub children: Vec<SpanNode>,
}

fn is_unset(code: &i64) -> bool {
    *code == 0
}

/// Where a prompt's time went, in milliseconds; the four add up to its duration. A moment
/// counts once, for the first that applies of: waiting for the developer's permission
/// (`tool.blocked_on_user`), a tool (and the subagents it runs), the model, anything else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TimeSplit {
    pub model: f64,
    pub tools: f64,
    pub waiting_for_user: f64,
    pub other: f64,
}

/// One prompt: its id (from the events joined to its spans), its time split and its tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptTrace {
    pub prompt_id: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub time_ms: TimeSplit,
    pub spans: Vec<SpanNode>,
}

/// A session's spans, one tree per prompt, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionTrace {
    pub session_id: String,
    pub prompts: Vec<PromptTrace>,
}

/// What the events say about prompts: the prompt of each API request (`request_id` →
/// `prompt.id`, from `api_request` events) and when each prompt was sent (`user_prompt`).
#[derive(Debug, Clone, Default)]
pub struct PromptEvents {
    pub prompt_of_request: HashMap<String, String>,
    /// (time, prompt id), any order.
    pub prompts_at: Vec<(i64, String)>,
}

fn text_attr<'a>(span: &'a SpanNode, key: &str) -> Option<&'a str> {
    span.attributes.get(key).and_then(serde_json::Value::as_str)
}

/// Builds the trees: a span whose parent is not among `spans` is a root (a prompt's
/// interaction, or a span whose parent was never stored); every root is one prompt.
pub fn build(session_id: &str, spans: Vec<SpanRow>, events: &PromptEvents) -> SessionTrace {
    // One node per span id (a span stored twice under one id keeps its first copy).
    let mut seen = HashSet::new();
    let spans: Vec<SpanRow> = spans
        .into_iter()
        .filter(|s| seen.insert((s.trace_id.clone(), s.span_id.clone())))
        .collect();
    let ids: HashSet<(&str, &str)> = spans
        .iter()
        .map(|s| (s.trace_id.as_str(), s.span_id.as_str()))
        .collect();
    let mut children: BTreeMap<(String, String), Vec<SpanRow>> = BTreeMap::new();
    let mut roots = Vec::new();
    for span in &spans {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(&(span.trace_id.as_str(), parent)) => {
                children
                    .entry((span.trace_id.clone(), parent.to_owned()))
                    .or_default()
                    .push(span.clone());
            }
            _ => roots.push(span.clone()),
        }
    }
    fn node(span: SpanRow, children: &mut BTreeMap<(String, String), Vec<SpanRow>>) -> SpanNode {
        let mut kids = children
            .remove(&(span.trace_id.clone(), span.span_id.clone()))
            .unwrap_or_default();
        kids.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then(a.span_id.cmp(&b.span_id)));
        SpanNode {
            children: kids.into_iter().map(|k| node(k, children)).collect(),
            name: span.name,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            status_code: span.status_code,
            attributes: span.attributes,
        }
    }
    roots.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then(a.span_id.cmp(&b.span_id)));
    let prompts = roots
        .into_iter()
        .map(|root| {
            let tree = node(root, &mut children);
            PromptTrace {
                prompt_id: prompt_of(&tree, events),
                start_ns: tree.start_ns,
                end_ns: tree.end_ns,
                time_ms: split(&tree),
                spans: vec![tree],
            }
        })
        .collect();
    SessionTrace {
        session_id: session_id.to_owned(),
        prompts,
    }
}

/// The prompt a tree belongs to: the prompt of one of its model requests, else the prompt sent
/// within its time.
fn prompt_of(tree: &SpanNode, events: &PromptEvents) -> Option<String> {
    let mut stack = vec![tree];
    while let Some(span) = stack.pop() {
        if let Some(prompt) =
            text_attr(span, "request_id").and_then(|r| events.prompt_of_request.get(r))
        {
            return Some(prompt.clone());
        }
        stack.extend(span.children.iter());
    }
    events
        .prompts_at
        .iter()
        .filter(|(t, _)| *t >= tree.start_ns && *t <= tree.end_ns)
        .min_by_key(|(t, _)| *t)
        .map(|(_, p)| p.clone())
}

/// The total length of the union of `intervals`, clipped to `[from, to)`, less what `minus`
/// covers.
fn covered(intervals: &[(i64, i64)], minus: &[(i64, i64)], from: i64, to: i64) -> i64 {
    let merge = |list: &[(i64, i64)]| -> Vec<(i64, i64)> {
        let mut list: Vec<(i64, i64)> = list
            .iter()
            .map(|&(a, b)| (a.max(from), b.min(to)))
            .filter(|(a, b)| a < b)
            .collect();
        list.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (a, b) in list {
            match out.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        out
    };
    let (inside, outside) = (merge(intervals), merge(minus));
    let mut total = 0;
    for (a, b) in inside {
        let mut length = b - a;
        for &(c, d) in &outside {
            length -= (b.min(d) - a.max(c)).max(0);
        }
        total += length;
    }
    total
}

/// The prompt's time split (see `TimeSplit`).
pub fn split(tree: &SpanNode) -> TimeSplit {
    let (mut waiting, mut tools, mut model) = (Vec::new(), Vec::new(), Vec::new());
    let mut stack = vec![tree];
    while let Some(span) = stack.pop() {
        let interval = (span.start_ns, span.end_ns);
        match span.name.as_str() {
            BLOCKED_ON_USER_SPAN => waiting.push(interval),
            TOOL_SPAN => tools.push(interval),
            LLM_REQUEST_SPAN => model.push(interval),
            _ => {}
        }
        stack.extend(span.children.iter());
    }
    let (from, to) = (tree.start_ns, tree.end_ns.max(tree.start_ns));
    let waiting_ns = covered(&waiting, &[], from, to);
    let tools_ns = covered(&tools, &waiting, from, to);
    let not_model: Vec<(i64, i64)> = tools.iter().chain(waiting.iter()).copied().collect();
    let model_ns = covered(&model, &not_model, from, to);
    let ms = |ns: i64| ns as f64 / 1e6;
    TimeSplit {
        model: ms(model_ns),
        tools: ms(tools_ns),
        waiting_for_user: ms(waiting_ns),
        other: ms((to - from) - waiting_ns - tools_ns - model_ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(id: &str, parent: Option<&str>, name: &str, start: i64, end: i64) -> SpanRow {
        SpanRow {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: name.into(),
            start_ns: start * 1_000_000,
            end_ns: end * 1_000_000,
            status_code: 0,
            attributes: json!({}),
        }
    }

    #[test]
    fn the_split_counts_each_moment_once_and_adds_up() {
        // A 100 ms prompt: the model 0–30, a tool 30–70 (waiting 30–50, running 50–70) with a
        // second model request inside it 55–65 (a subagent), the model again 70–90.
        let spans = vec![
            span("i", None, INTERACTION_SPAN, 0, 100),
            span("m1", Some("i"), LLM_REQUEST_SPAN, 0, 30),
            span("t", Some("i"), TOOL_SPAN, 30, 70),
            span("w", Some("t"), BLOCKED_ON_USER_SPAN, 30, 50),
            span("x", Some("t"), TOOL_EXECUTION_SPAN, 50, 70),
            span("sub", Some("x"), LLM_REQUEST_SPAN, 55, 65),
            span("m2", Some("i"), LLM_REQUEST_SPAN, 70, 90),
            // A span whose parent was never stored is a tree of its own.
            span("lost", Some("gone"), TOOL_SPAN, 200, 210),
        ];
        let trace = build("s", spans, &PromptEvents::default());
        assert_eq!(trace.prompts.len(), 2);
        let t = trace.prompts[0].time_ms;
        assert_eq!(
            (t.model, t.tools, t.waiting_for_user, t.other),
            (50.0, 20.0, 20.0, 10.0)
        );
        assert_eq!(trace.prompts[1].time_ms.tools, 10.0);
        // Every span once.
        fn count(n: &SpanNode) -> usize {
            1 + n.children.iter().map(count).sum::<usize>()
        }
        let total: usize = trace.prompts.iter().flat_map(|p| &p.spans).map(count).sum();
        assert_eq!(total, 8);
        assert_eq!(
            trace.prompts[0].spans[0].children[1].children[1].children[0].span_id,
            "sub"
        );
    }

    #[test]
    fn a_prompt_is_found_through_its_requests_or_its_time() {
        let mut request = span("m", Some("i"), LLM_REQUEST_SPAN, 1, 2);
        request.attributes = json!({"request_id": "req_1"});
        let events = PromptEvents {
            prompt_of_request: HashMap::from([("req_1".to_owned(), "p-1".to_owned())]),
            prompts_at: vec![(21_000_000, "p-2".to_owned())],
        };
        let trace = build(
            "s",
            vec![
                span("i", None, INTERACTION_SPAN, 0, 10),
                request,
                span("j", None, INTERACTION_SPAN, 20, 30),
                span("k", None, INTERACTION_SPAN, 40, 50),
            ],
            &events,
        );
        let ids: Vec<Option<&str>> = trace
            .prompts
            .iter()
            .map(|p| p.prompt_id.as_deref())
            .collect();
        assert_eq!(ids, vec![Some("p-1"), Some("p-2"), None]);
    }
}
