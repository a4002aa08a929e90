//! `ccscope settings` end to end against a scratch managed root (honoured by debug builds
//! only): validate, diff, apply through the real helper, show, backups, restore, exit codes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::BIN;
use serde_json::{Value, json};

struct Machine {
    root: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let helper = Path::new(BIN).with_file_name("ccscope-settings-helper");
        assert!(
            helper.is_file(),
            "build the helper first: cargo build -p ccscope-settings-helper"
        );
        Machine {
            root,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn managed_file(&self) -> std::path::PathBuf {
        self.root
            .path()
            .join("etc/claude-code/managed-settings.json")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut child = Command::new(BIN)
            .args(args)
            .env("CCSCOPE_TEST_MANAGED_ROOT", self.root.path())
            .env(
                "CCSCOPE_SETTINGS_HELPER",
                Path::new(BIN).with_file_name("ccscope-settings-helper"),
            )
            .env("HOME", self.home.path())
            .env_remove("CLAUDE_CONFIG_DIR")
            .current_dir(self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            std::io::Write::write_all(&mut input, text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn file(&self, name: &str, value: &Value) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
        path.to_string_lossy().into_owned()
    }
}

fn telemetry_policy() -> Value {
    json!({
        "env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com",
            "OTEL_LOG_USER_PROMPTS": "0",
            "OTEL_METRICS_INCLUDE_SESSION_ID": "false"
        },
        "companyFutureKey": {"kept": true}
    })
}

#[test]
fn validate_reports_pointers_and_exit_codes() {
    let m = Machine::new();
    let good = m.file("good.json", &telemetry_policy());
    let (code, out, err) = m.run(&["settings", "validate", &good], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("warning /companyFutureKey"), "{err}");

    let bad = m.file("bad.json", &json!({"env": {"OTEL_RESOURCE_ATTRIBUTES": "dept=R D", "OTEL_METRIC_EXPORT_INTERVAL": "1m"}, "permissions": {"deny": ["Bash()"]}}));
    let (code, out, err) = m.run(&["settings", "validate", &bad], None);
    assert_eq!(code, 1, "{out}{err}");
    for pointer in [
        "/env/OTEL_RESOURCE_ATTRIBUTES",
        "/env/OTEL_METRIC_EXPORT_INTERVAL",
        "/permissions/deny/0",
    ] {
        assert!(
            err.contains(&format!("error {pointer}: ")),
            "{pointer}: {err}"
        );
    }
    let (code, out, _) = m.run(&["settings", "validate", &bad, "--json"], None);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["errors"].as_array().unwrap().len(), 3, "{report}");

    let (code, _, err) = m.run(&["settings", "validate", "-"], Some("{\n  \"a\": 1,\n}"));
    assert_eq!(code, 1);
    assert!(err.starts_with("-:3:"), "{err}");
    // Not UTF-8, a byte order mark, over 1 MiB: exit 1 with what is wrong (not exit 2).
    let latin1 = m.home.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"model\": \"caf\xe9\"}").unwrap();
    let (code, _, err) = m.run(&["settings", "validate", &latin1.to_string_lossy()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
    let (code, _, err) = m.run(&["settings", "validate", "-"], Some("\u{feff}{}"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("BOM"), "{err}");
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(1 << 20));
    let (code, _, err) = m.run(&["settings", "validate", "-"], Some(&big));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 MiB"), "{err}");
    let dup = m.home.path().join("dup.json");
    std::fs::write(&dup, br#"{"model": "a", "model": "b"}"#).unwrap();
    let (code, _, err) = m.run(&["settings", "validate", &dup.to_string_lossy()], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning /model: \"model\" appears more than once"),
        "{err}"
    );
    let (code, _, err) = m.run(&["settings", "validate", "/nonexistent.json"], None);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = m.run(&["settings", "frobnicate"], None);
    assert_eq!(code, 2);
}

#[test]
fn apply_writes_through_the_helper_and_show_reports_the_source() {
    let m = Machine::new();
    let policy = m.file("policy.json", &telemetry_policy());
    let (code, diff, err) = m.run(&["settings", "diff", &policy], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        diff.contains("+    \"OTEL_LOG_USER_PROMPTS\": \"0\","),
        "{diff}"
    );
    assert!(!m.managed_file().exists(), "diff must not write");

    let (code, out, err) = m.run(&["settings", "apply", &policy], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("wrote ") && out.contains("managed-settings.json"),
        "{out}"
    );
    let written: Value = serde_json::from_slice(&std::fs::read(m.managed_file()).unwrap()).unwrap();
    assert_eq!(written, telemetry_policy(), "unknown keys survive");

    let (code, out, _) = m.run(&["settings", "show", "--json"], None);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    let entry = shown["effective"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pointer"] == "/env/OTEL_LOG_USER_PROMPTS")
        .unwrap();
    assert_eq!(
        (entry["value"].as_str(), entry["source"].as_str()),
        (Some("0"), Some("managed-settings.json"))
    );
    let (_, table, _) = m.run(&["settings", "show"], None);
    assert!(
        table.contains("/env/OTEL_METRICS_INCLUDE_SESSION_ID") && table.contains("in effect"),
        "{table}"
    );

    // Applying the same document again changes nothing.
    let (code, out, _) = m.run(&["settings", "apply", &policy], None);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to do"), "{out}");

    // A second version, then restore the first from its backup.
    let mut v2 = telemetry_policy();
    v2["env"]["OTEL_LOG_USER_PROMPTS"] = json!("1");
    let v2_file = m.file("v2.json", &v2);
    let (code, out, err) = m.run(&["settings", "apply", &v2_file, "--json"], None);
    assert_eq!(code, 0, "{err}");
    let result: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["outcome"], "ran");
    let backup = result["report"]["backup"].as_str().unwrap().to_owned();
    let (_, listing, _) = m.run(&["settings", "backups", "--json"], None);
    let listing: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(listing[0]["id"], backup);
    let (code, _, err) = m.run(&["settings", "restore", &backup], None);
    assert_eq!(code, 0, "{err}");
    let restored: Value =
        serde_json::from_slice(&std::fs::read(m.managed_file()).unwrap()).unwrap();
    assert_eq!(restored["env"]["OTEL_LOG_USER_PROMPTS"], "0");
}

#[test]
fn invalid_documents_bad_targets_and_missing_permission_write_nothing() {
    let m = Machine::new();
    let bad = m.file("bad.json", &json!({"allowManagedMcpServersOnly": "yes"}));
    let (code, _, err) = m.run(&["settings", "apply", &bad], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("fails closed") && err.contains("nothing written"),
        "{err}"
    );
    let good = m.file("good.json", &telemetry_policy());
    let (code, _, err) = m.run(
        &["settings", "apply", &good, "--target", "/etc/passwd"],
        None,
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = m.run(&["settings", "restore", "../../shadow"], None);
    assert_eq!(code, 2, "{err}");
    assert!(!m.managed_file().exists());

    // As an ordinary user the helper cannot get root here (no polkit agent): exit 3.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "settings",
            "apply",
            &good,
        ])
        .env("CCSCOPE_TEST_MANAGED_ROOT", m.root.path())
        .env("HOME", m.home.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!m.managed_file().exists());
}

/// A cloned repository may carry `.claude/settings.json` as a link to `/dev/zero` or as a FIFO:
/// `settings show` must neither read forever nor hang, and must say which file it skipped.
#[test]
fn show_skips_a_project_file_that_is_a_device_or_a_fifo() {
    let m = Machine::new();
    let project = m.home.path().join("repo");
    let claude = project.join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    std::os::unix::fs::symlink("/dev/zero", claude.join("settings.json")).unwrap();
    let fifo = std::ffi::CString::new(
        claude
            .join("settings.local.json")
            .to_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    // A reader that blocks on the FIFO is let go after a while (a writer sends `{}`), so a
    // regression fails below instead of hanging the suite.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let unblock = {
        let done = done.clone();
        let path = claude.join("settings.local.json");
        std::thread::spawn(move || {
            use std::os::unix::fs::OpenOptionsExt;
            let started = std::time::Instant::now();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if started.elapsed() < std::time::Duration::from_secs(10) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
                if let Ok(mut w) = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path)
                {
                    let _ = std::io::Write::write_all(&mut w, b"{}");
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let project_arg = project.to_string_lossy().into_owned();
    let (code, out, err) = m.run(
        &["settings", "show", "--json", "--project", &project_arg],
        None,
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    unblock.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    let errors: Vec<String> = shown["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["error"].as_str().map(str::to_owned))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("settings.json") && e.contains("a character device")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("settings.local.json") && e.contains("a FIFO")),
        "{errors:?}"
    );
    let (_, table, _) = m.run(&["settings", "show", "--project", &project_arg], None);
    assert!(table.contains("not a regular file"), "{table}");
}
