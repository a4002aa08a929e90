//! A local stand-in for the Anthropic Messages API, so the real Claude Code CLI can run offline
//! (`ANTHROPIC_BASE_URL`). The first turn of a conversation asks for a `Write` tool call; once
//! the tool result comes back it answers with text. With `delegate`, a conversation that can
//! start a subagent (its tools hold `Agent`) asks for one instead — once — and the subagent's
//! own conversation then asks for the `Write`. Every answer reports a fixed usage, and the stub
//! counts what it answered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::{Router, body::Body, extract::State, http::header, response::Response, routing::post};
use serde_json::{Value, json};

/// What the stub asks Claude Code to write.
pub const FILE_CONTENT: &str = "def greet():\n    return 'hello'\n\nprint(greet())\n";

/// Usage reported on every answer.
pub const USAGE: [(&str, u64); 4] = [
    ("input_tokens", 100),
    ("output_tokens", 20),
    ("cache_read_input_tokens", 1000),
    ("cache_creation_input_tokens", 50),
];

#[derive(Default)]
pub struct StubCounts {
    pub requests: AtomicU64,
    pub tool_calls: AtomicU64,
    /// Subagents the stub asked for.
    pub delegations: AtomicU64,
}

/// The subagent type the stub asks Claude Code to start when delegating.
pub const SUBAGENT_TYPE: &str = "general-purpose";

pub struct MessagesStub {
    pub addr: SocketAddr,
    pub counts: Arc<StubCounts>,
    /// The file the stub asks Claude Code to write.
    pub file_path: String,
}

struct StubState {
    counts: Arc<StubCounts>,
    file_path: String,
    delegate: bool,
}

fn usage(output_tokens: u64) -> Value {
    let mut u = serde_json::Map::new();
    for (k, v) in USAGE {
        u.insert(
            k.into(),
            json!(if k == "output_tokens" {
                output_tokens
            } else {
                v
            }),
        );
    }
    Value::Object(u)
}

fn has_tool_result(request: &Value) -> bool {
    let Some(last) = request["messages"].as_array().and_then(|m| m.last()) else {
        return false;
    };
    last["content"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "tool_result")
}

async fn messages(State(state): State<Arc<StubState>>, body: axum::body::Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = state.counts.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_owned();
    let offers = |name: &str| {
        request["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == name))
    };
    let fresh = !has_tool_result(&request);
    let wants_tool = fresh && offers("Write");
    // One subagent (a subagent may be offered `Agent` too: it writes instead).
    let delegating = state.delegate
        && fresh
        && offers("Agent")
        && state
            .counts
            .delegations
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
    let (content, stop_reason) = if delegating {
        let input = json!({"description": "Write the greeting", "prompt": "Write the greeting script", "subagent_type": SUBAGENT_TYPE});
        (
            json!({"type": "tool_use", "id": format!("toolu_agent{n:04}"), "name": "Agent", "input": input}),
            "tool_use",
        )
    } else if wants_tool {
        state.counts.tool_calls.fetch_add(1, Ordering::SeqCst);
        let input = json!({"file_path": state.file_path, "content": FILE_CONTENT});
        (
            json!({"type": "tool_use", "id": format!("toolu_stub{n:04}"), "name": "Write", "input": input}),
            "tool_use",
        )
    } else {
        (
            json!({"type": "text", "text": "Done: the file is written."}),
            "end_turn",
        )
    };
    let message = json!({
        "id": format!("msg_stub{n:04}"), "type": "message", "role": "assistant", "model": model,
        "content": [content.clone()], "stop_reason": stop_reason, "stop_sequence": null, "usage": usage(20),
    });
    if request["stream"] != true {
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header("request-id", format!("req_stub{n:04}"))
            .body(Body::from(message.to_string()))
            .expect("response");
    }
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = usage(1);
    let (block_start, delta) = if content["type"] == "tool_use" {
        let mut block = content.clone();
        block["input"] = json!({});
        (
            block,
            json!({"type": "input_json_delta", "partial_json": content["input"].to_string()}),
        )
    } else {
        (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": content["text"]}),
        )
    };
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": start}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": block_start}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 20}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let text: String = events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect();
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header("request-id", format!("req_stub{n:04}"))
        .body(Body::from(text))
        .expect("response")
}

impl MessagesStub {
    /// `delegate`: the main conversation starts a subagent that writes the file.
    pub async fn start_with(file_path: String, delegate: bool) -> MessagesStub {
        let counts = Arc::new(StubCounts::default());
        let state = Arc::new(StubState {
            counts: Arc::clone(&counts),
            file_path: file_path.clone(),
            delegate,
        });
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MessagesStub {
            addr,
            counts,
            file_path,
        }
    }
}
