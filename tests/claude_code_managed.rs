//! "Done means the machine's Claude Code honours it": `ccscope settings apply` writes the real
//! /etc/claude-code/managed-settings.json through the settings helper, then the real Claude Code
//! CLI — started with no telemetry variables at all, and a user settings file that tries to turn
//! prompt logging on and send elsewhere — exports to ccscope exactly as the policy says.
//!
//! This test changes the machine's real managed settings, so it runs as root only (CI does), in
//! its own test binary (cargo runs test binaries one at a time), and puts back whatever was there.

#[path = "common/claude.rs"]
mod claude;
mod common;
#[path = "common/messages_stub.rs"]
mod messages_stub;

use std::path::{Path, PathBuf};
use std::time::Duration;

use claude::{claude_binary, claude_command};
use common::*;
use messages_stub::MessagesStub;
use serde_json::{Value, json};

const REAL_MANAGED_DIR: &str = "/etc/claude-code";

/// Restores the machine's managed directory as it was, whatever the test does.
struct Restore {
    file: PathBuf,
    previous: Option<Vec<u8>>,
    backups_existed: bool,
    dir_existed: bool,
}

impl Restore {
    fn take() -> Restore {
        let dir = Path::new(REAL_MANAGED_DIR);
        let file = dir.join("managed-settings.json");
        Restore {
            previous: std::fs::read(&file).ok(),
            backups_existed: dir.join(".ccscope-backups").exists(),
            dir_existed: dir.exists(),
            file,
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let dir = Path::new(REAL_MANAGED_DIR);
        match &self.previous {
            Some(bytes) => {
                let _ = std::fs::write(&self.file, bytes);
            }
            None => {
                let _ = std::fs::remove_file(&self.file);
            }
        }
        if !self.backups_existed {
            let _ = std::fs::remove_dir_all(dir.join(".ccscope-backups"));
        }
        if !self.dir_existed {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_applied_by_ccscope_is_what_claude_code_exports_by() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test writes /etc/claude-code and runs as root (CI does)"
    );
    assert!(claude_binary().is_file());
    let _restore = Restore::take();
    let data = tempdir();
    let server = Server::start(data.path(), &[]);

    // The admin's policy: telemetry on, prompt text off, no session ids on metrics, a department.
    let policy = json!({
        "env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": format!("http://{}", server.http),
            "OTEL_LOG_USER_PROMPTS": "0",
            "OTEL_METRICS_INCLUDE_SESSION_ID": "false",
            "OTEL_RESOURCE_ATTRIBUTES": "department=managed%20policy",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_LOGS_EXPORT_INTERVAL": "500"
        }
    });
    let work = tempdir();
    let policy_file = work.path().join("policy.json");
    std::fs::write(&policy_file, serde_json::to_vec(&policy).unwrap()).unwrap();
    // The helper built beside the test binary (whose directories need not be root's alone, as
    // an installed one's must): named explicitly, which test builds allow.
    let helper = std::path::Path::new(BIN).with_file_name("ccscope-settings-helper");
    let (code, out, err) = ccscope_env(
        &["settings", "apply", &policy_file.to_string_lossy()],
        &[
            ("CCSCOPE_TEST_MANAGED_ROOT", ""),
            ("CCSCOPE_SETTINGS_HELPER", &helper.to_string_lossy()),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("/etc/claude-code/managed-settings.json"),
        "{out}"
    );

    // A user who would rather log prompts and send telemetry elsewhere.
    let home = work.path().join("home");
    let project = work.path().join("project");
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        home.join(".claude/settings.json"),
        serde_json::to_vec(&json!({"env": {"OTEL_LOG_USER_PROMPTS": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}})).unwrap(),
    )
    .unwrap();
    let file = project.join("greet.py");
    let stub = MessagesStub::start_with(file.to_string_lossy().into_owned(), false).await;
    let prompt = "Write a greet function to greet.py (managed)";
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        claude_command(prompt, &project, &home, stub.addr).output(),
    )
    .await
    .expect("claude finished within 2 minutes")
    .expect("run claude");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "claude failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("claude JSON");
    assert_eq!(
        stub.counts
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        2,
        "a tool turn and a text turn"
    );
    assert!(
        Path::new(&stub.file_path).is_file(),
        "Claude Code wrote the file"
    );
    let session = result["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();

    // The events arrived here (not at the user's endpoint), with the policy's attribute...
    let tagged = report(data.path(), &["--attr", "department=managed policy"]);
    assert!(
        tagged["events"]["user_prompt"].as_u64() == Some(1),
        "{tagged}"
    );
    let cli_cost = result["total_cost_usd"].as_f64().expect("cost");
    assert!(
        (tagged["cost_usd"].as_f64().unwrap() - cli_cost).abs() < 1e-9,
        "{tagged} vs {cli_cost}"
    );
    // ...the prompt text withheld although the user asked for it...
    let d = data.path().to_string_lossy().into_owned();
    let (code, out, _) = ccscope(&[
        "events",
        "--json",
        "--since",
        "all",
        "--attr",
        "department=managed policy",
        "--name",
        "user_prompt",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    let event: Value = serde_json::from_str(out.trim()).expect("one user_prompt");
    assert_eq!(event["attributes"]["prompt"], "<REDACTED>");
    // ...and no session id on any metric point or event (the switch covers both).
    assert!(!out.contains(&session), "{out}");
    let (code, out, err) = ccscope(&[
        "export",
        "--what",
        "points",
        "--format",
        "json",
        "--since",
        "all",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0, "{err}");
    let points: Value = serde_json::from_str(&out).expect("points JSON");
    let points = points.as_array().expect("array");
    assert!(!points.is_empty());
    for p in points {
        assert!(
            !p.to_string().contains(&session),
            "a metric point carries the session id: {p}"
        );
    }
    drop(server);
}
