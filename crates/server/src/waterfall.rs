//! GET /api/sessions/{id}/trace: a session's spans as one waterfall per prompt (the trees and
//! time split of `ccscope_query::trace`), each span with the events joined to it.
//!
//! Must never: show an event under two spans (an event joins the first span, in tree order,
//! that carries its `tool_use_id`, else its `request_id`, else its prompt's root); answer
//! differently per source (the trees and the events come through `Source`).

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, State},
};
use ccscope_query::trace::{PromptTrace, SessionTrace, SpanNode};
use ccscope_query::{EventQuery, EventRow, Filter};

use crate::dto::{EventDoc, PromptTraceDoc, SpanDoc, TimeSplitDoc, TraceView};
use crate::state::{ApiError, ApiState, query};

/// The span attributes Claude Code puts the ids of its events in.
const REQUEST_ID: &str = "request_id";
const TOOL_USE_ID: &str = "tool_use_id";

pub(crate) async fn trace(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<TraceView>, ApiError> {
    let body = query(&state, move |source| {
        let whole_life = Filter {
            from_ns: 0,
            to_ns: i64::MAX,
            ..Filter::default()
        };
        let trace = ccscope_query::session_trace(source, &id, &whole_life)?;
        let mut rows = Vec::new();
        if !trace.prompts.is_empty() {
            let events = EventQuery {
                filter: Filter {
                    session: Some(id.clone()),
                    ..whole_life
                },
                newest_first: false,
                ..EventQuery::default()
            };
            source.events(&events, &mut |row| {
                rows.push(row);
                Ok(())
            })?;
        }
        Ok(view(trace, &rows))
    })
    .await?;
    Ok(Json(body))
}

/// Where each event goes: the span (by its position in a tree-order walk of all prompts)
/// that carries its tool use, else its request, else the root of its prompt.
fn placements(trace: &SessionTrace, events: &[EventRow]) -> HashMap<usize, Vec<usize>> {
    fn walk<'a>(
        span: &'a SpanNode,
        order: &mut usize,
        tools: &mut HashMap<&'a str, usize>,
        requests: &mut HashMap<&'a str, usize>,
    ) {
        let here = *order;
        *order += 1;
        let text = |key| span.attributes.get(key).and_then(serde_json::Value::as_str);
        if let Some(id) = text(TOOL_USE_ID) {
            tools.entry(id).or_insert(here);
        }
        if let Some(id) = text(REQUEST_ID) {
            requests.entry(id).or_insert(here);
        }
        for child in &span.children {
            walk(child, order, tools, requests);
        }
    }
    let mut order = 0;
    let mut tools = HashMap::new();
    let mut requests = HashMap::new();
    let mut roots: HashMap<&str, usize> = HashMap::new();
    for prompt in &trace.prompts {
        for (i, span) in prompt.spans.iter().enumerate() {
            if let (0, Some(id)) = (i, prompt.prompt_id.as_deref()) {
                roots.entry(id).or_insert(order);
            }
            walk(span, &mut order, &mut tools, &mut requests);
        }
    }
    let mut placed: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let span = event
            .tool_use_id
            .as_deref()
            .and_then(|id| tools.get(id))
            .or_else(|| event.request_id.as_deref().and_then(|id| requests.get(id)))
            .or_else(|| event.prompt_id.as_deref().and_then(|id| roots.get(id)));
        if let Some(&span) = span {
            placed.entry(span).or_default().push(index);
        }
    }
    placed
}

/// The API's view of a session trace: each span with its joined events, each prompt with its
/// text when Claude Code sent it.
pub fn view(trace: SessionTrace, events: &[EventRow]) -> TraceView {
    let placed = placements(&trace, events);
    let text_of: HashMap<&str, &str> = events
        .iter()
        .filter(|e| e.name == "user_prompt")
        .filter_map(|e| Some((e.prompt_id.as_deref()?, e.prompt.as_deref()?)))
        .collect();
    fn doc(
        span: SpanNode,
        order: &mut usize,
        placed: &HashMap<usize, Vec<usize>>,
        events: &[EventRow],
    ) -> SpanDoc {
        let here = *order;
        *order += 1;
        let joined = placed
            .get(&here)
            .map(|list| list.iter().map(|&i| EventDoc::from(&events[i])).collect())
            .unwrap_or_default();
        SpanDoc {
            name: span.name,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            status_code: span.status_code,
            attributes: span.attributes,
            events: joined,
            children: span
                .children
                .into_iter()
                .map(|child| doc(child, order, placed, events))
                .collect(),
        }
    }
    let mut order = 0;
    let prompts = trace
        .prompts
        .into_iter()
        .map(|p: PromptTrace| PromptTraceDoc {
            prompt: p
                .prompt_id
                .as_deref()
                .and_then(|id| text_of.get(id))
                .map(|t| (*t).to_owned()),
            prompt_id: p.prompt_id,
            start_ns: p.start_ns,
            end_ns: p.end_ns,
            time_ms: TimeSplitDoc {
                model: p.time_ms.model,
                tools: p.time_ms.tools,
                waiting_for_user: p.time_ms.waiting_for_user,
                other: p.time_ms.other,
            },
            spans: p
                .spans
                .into_iter()
                .map(|s| doc(s, &mut order, &placed, events))
                .collect(),
        })
        .collect();
    TraceView {
        session_id: trace.session_id,
        prompts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccscope_query::trace::TimeSplit;
    use serde_json::json;

    fn span(
        name: &str,
        id: &str,
        attributes: serde_json::Value,
        children: Vec<SpanNode>,
    ) -> SpanNode {
        SpanNode {
            name: name.into(),
            span_id: id.into(),
            parent_span_id: None,
            start_ns: 0,
            end_ns: 10,
            status_code: 0,
            attributes,
            children,
        }
    }

    fn event(
        name: &str,
        prompt: Option<&str>,
        request: Option<&str>,
        tool: Option<&str>,
    ) -> EventRow {
        EventRow {
            time_ns: 1,
            name: name.into(),
            session_id: "s".into(),
            sequence: None,
            prompt_id: prompt.map(Into::into),
            user_id: None,
            model: None,
            tool_name: None,
            cost_usd: None,
            duration_ms: None,
            success: None,
            status_code: None,
            request_id: request.map(Into::into),
            tool_use_id: tool.map(Into::into),
            decision: None,
            decision_source: None,
            error: None,
            tokens: None,
            prompt: (name == "user_prompt").then(|| "fix the bug".into()),
            prompt_length: None,
            attributes: json!({}),
            resource: json!({}),
        }
    }

    fn names(span: &SpanDoc) -> Vec<&str> {
        span.events.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn each_event_joins_one_span_by_its_most_specific_id() {
        let tree = span(
            "claude_code.interaction",
            "root",
            json!({}),
            vec![
                span(
                    "claude_code.llm_request",
                    "llm",
                    json!({"request_id": "r1"}),
                    vec![],
                ),
                span(
                    "claude_code.tool",
                    "tool",
                    json!({"tool_use_id": "t1"}),
                    vec![span(
                        "claude_code.tool.execution",
                        "exec",
                        json!({"tool_use_id": "t1"}),
                        vec![],
                    )],
                ),
            ],
        );
        let trace = SessionTrace {
            session_id: "s".into(),
            prompts: vec![PromptTrace {
                prompt_id: Some("p1".into()),
                start_ns: 0,
                end_ns: 10,
                time_ms: TimeSplit::default(),
                spans: vec![tree],
            }],
        };
        let events = [
            event("user_prompt", Some("p1"), None, None),
            event("api_request", Some("p1"), Some("r1"), None),
            // A decision carries both its request and its tool use: the tool wins.
            event("tool_decision", Some("p1"), Some("r1"), Some("t1")),
            event("tool_result", Some("p1"), None, Some("t1")),
            // Another prompt's event, and one of no prompt: on no span.
            event("user_prompt", Some("p2"), None, None),
            event("api_error", None, Some("r9"), None),
        ];
        let view = view(trace, &events);
        let root = &view.prompts[0].spans[0];
        assert_eq!(view.prompts[0].prompt.as_deref(), Some("fix the bug"));
        assert_eq!(names(root), ["user_prompt"]);
        assert_eq!(names(&root.children[0]), ["api_request"]);
        assert_eq!(names(&root.children[1]), ["tool_decision", "tool_result"]);
        assert!(root.children[1].children[0].events.is_empty());
    }
}
