//! Reading every source from a scratch layout and computing effective values.

use std::fs;
use std::path::Path;

use ccscope_settings::Target;
use ccscope_settings::paths::{Layout, Platform};
use ccscope_settings::sources::{Level, Sources, Status};
use serde_json::{Value, json};

fn write(path: &Path, value: &Value) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn effective(sources: &Sources, pointer: &str) -> (Value, String) {
    let e = sources
        .effective()
        .into_iter()
        .find(|e| e.pointer == pointer)
        .unwrap_or_else(|| panic!("{pointer} not effective"));
    (e.value, e.source)
}

#[test]
fn managed_file_drop_ins_project_and_user_in_precedence_order() {
    let root = tempfile::tempdir().unwrap();
    let layout = Layout::under_root(Platform::Linux, root.path());
    write(
        &layout.managed_file(),
        &json!({"model": "managed-model", "env": {"A": "managed", "B": "managed"}, "permissions": {"deny": ["Bash(rm *)"]}}),
    );
    write(
        &layout.drop_in_dir().join("20-b.json"),
        &json!({"env": {"B": "dropin-20"}}),
    );
    write(
        &layout.drop_in_dir().join("10-a.json"),
        &json!({"env": {"B": "dropin-10", "C": "dropin-10"}, "permissions": {"deny": ["Read(.env)"]}}),
    );
    fs::write(
        layout.drop_in_dir().join(".hidden.json"),
        "{\"model\": \"hidden\"}",
    )
    .unwrap();
    fs::write(layout.drop_in_dir().join("notes.txt"), "x").unwrap();
    fs::write(layout.drop_in_dir().join("30-broken.json"), "{ nope").unwrap();
    let project = root.path().join("repo");
    write(
        &project.join(".claude/settings.json"),
        &json!({"model": "project-model", "outputStyle": "project", "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://evil.example.com"}}),
    );
    write(
        &project.join(".claude/settings.local.json"),
        &json!({"outputStyle": "local"}),
    );
    let user = root.path().join("home/.claude/settings.json");
    write(
        &user,
        &json!({"outputStyle": "user", "theme": "dark", "permissions": {"deny": ["WebFetch"]}}),
    );

    let sources = Sources::read(&layout, Some(&user), Some(&project));
    let labels: Vec<&str> = sources.sources.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "managed-settings.d/30-broken.json",
            "managed-settings.d/20-b.json",
            "managed-settings.d/10-a.json",
            "managed-settings.json",
            ".claude/settings.local.json",
            ".claude/settings.json",
            "~/.claude/settings.json",
        ]
    );
    assert_eq!(sources.sources[0].status, Status::Invalid);
    assert!(
        sources.sources[0]
            .error
            .as_deref()
            .unwrap()
            .contains("not valid JSON")
    );

    assert_eq!(
        effective(&sources, "/model"),
        (json!("managed-model"), "managed-settings.json".into())
    );
    assert_eq!(
        effective(&sources, "/env/B"),
        (json!("dropin-20"), "managed-settings.d/20-b.json".into())
    );
    assert_eq!(
        effective(&sources, "/env/C").1,
        "managed-settings.d/10-a.json"
    );
    assert_eq!(
        effective(&sources, "/outputStyle"),
        (json!("local"), ".claude/settings.local.json".into())
    );
    assert_eq!(
        effective(&sources, "/theme"),
        (json!("dark"), "~/.claude/settings.json".into())
    );
    // Lists merge across every level.
    let (deny, _) = effective(&sources, "/permissions/deny");
    let deny: Vec<&str> = deny
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for rule in ["Bash(rm *)", "Read(.env)", "WebFetch"] {
        assert!(deny.contains(&rule), "{deny:?}");
    }
    // A project cannot redirect telemetry.
    let endpoint = sources
        .effective()
        .into_iter()
        .find(|e| e.pointer == "/env/OTEL_EXPORTER_OTLP_ENDPOINT");
    assert!(endpoint.is_none(), "{endpoint:?}");
    // The file tier merged as Claude Code merges it.
    let policy = sources.managed_policy();
    assert_eq!(
        policy["env"],
        json!({"A": "managed", "B": "dropin-20", "C": "dropin-10"})
    );
    assert_eq!(
        policy["permissions"]["deny"],
        json!(["Bash(rm *)", "Read(.env)"])
    );
    assert!(
        sources
            .sources
            .iter()
            .filter(|s| s.level == Level::Managed && s.status == Status::Loaded)
            .all(|s| s.in_effect)
    );
}

#[test]
fn a_project_may_only_turn_telemetry_detail_off() {
    let root = tempfile::tempdir().unwrap();
    let layout = Layout::under_root(Platform::Linux, root.path());
    let project = root.path().join("repo");
    write(
        &project.join(".claude/settings.json"),
        &json!({"env": {"OTEL_LOG_USER_PROMPTS": "0", "OTEL_LOG_TOOL_DETAILS": "1", "OTEL_METRICS_EXPORTER": "none"}}),
    );
    let user = root.path().join("home/.claude/settings.json");
    write(
        &user,
        &json!({"env": {"OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "0"}}),
    );
    let sources = Sources::read(&layout, Some(&user), Some(&project));
    assert_eq!(
        effective(&sources, "/env/OTEL_LOG_USER_PROMPTS"),
        (json!("0"), ".claude/settings.json".into())
    );
    assert_eq!(
        effective(&sources, "/env/OTEL_METRICS_EXPORTER"),
        (json!("none"), ".claude/settings.json".into())
    );
    // Turning tool details on is not the project's to do.
    let details = sources
        .effective()
        .into_iter()
        .find(|e| e.pointer == "/env/OTEL_LOG_TOOL_DETAILS")
        .unwrap();
    assert_eq!(
        (details.value, details.source.as_str()),
        (json!("0"), "~/.claude/settings.json")
    );
    assert!(
        details.also[0].note.starts_with("ignored"),
        "{:?}",
        details.also
    );
    // With managed policy setting it, the project's turn-off is ignored too.
    write(
        &layout.managed_file(),
        &json!({"env": {"OTEL_LOG_USER_PROMPTS": "1"}}),
    );
    let sources = Sources::read(&layout, Some(&user), Some(&project));
    assert_eq!(
        effective(&sources, "/env/OTEL_LOG_USER_PROMPTS"),
        (json!("1"), "managed-settings.json".into())
    );
}

#[test]
fn shadow_warnings_name_the_drop_in_that_wins() {
    let root = tempfile::tempdir().unwrap();
    let layout = Layout::under_root(Platform::Linux, root.path());
    write(
        &layout.drop_in_dir().join("90-otel.json"),
        &json!({"env": {"OTEL_LOG_USER_PROMPTS": "0"}}),
    );
    let sources = Sources::read(&layout, None, None);
    let proposed = json!({"env": {"OTEL_LOG_USER_PROMPTS": "1", "OTEL_METRICS_EXPORTER": "otlp"}});
    let warnings = sources.shadow_warnings(&Target::Managed, &proposed);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].pointer, "/env/OTEL_LOG_USER_PROMPTS");
    assert!(
        warnings[0]
            .message
            .contains("managed-settings.d/90-otel.json")
    );
    // Writing the drop-in itself: nothing shadows it.
    let warnings = sources.shadow_warnings(&Target::DropIn("90-otel.json".into()), &proposed);
    assert!(warnings.is_empty(), "{warnings:?}");
    // A new drop-in sorted before 90-otel.json is shadowed by it.
    let warnings = sources.shadow_warnings(&Target::DropIn("50-mine.json".into()), &proposed);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_legacy_windows_file_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let layout = Layout::under_root(Platform::Windows, root.path());
    let legacy = &layout.legacy_files[0].0;
    write(legacy, &json!({"model": "old"}));
    let sources = Sources::read(&layout, None, None);
    assert_eq!(sources.legacy.len(), 1);
    let warnings = sources.shadow_warnings(&Target::Managed, &json!({}));
    assert!(warnings[0].message.contains("2.1.75"), "{warnings:?}");
}

/// One precedence case: what server-managed settings (the highest admin source, cached in
/// `~/.claude/remote-settings.json`) and the managed file hold, and what Claude Code uses.
struct Case {
    name: &'static str,
    remote: Value,
    file: Value,
    /// (pointer, Some((value, source)) or None when nothing applies)
    expect: &'static [(&'static str, Option<(&'static str, &'static str)>)],
    split_warning: bool,
}

#[test]
fn precedence_across_admin_sources() {
    let cases = [
        Case {
            name: "first source wins; env merges per variable",
            remote: json!({"model": "remote-model", "env": {"A": "remote"}}),
            file: json!({"model": "file-model", "cleanupPeriodDays": 7, "env": {"A": "file", "B": "file"}}),
            expect: &[
                ("/model", Some(("remote-model", "server-managed settings"))),
                ("/cleanupPeriodDays", None),
                ("/env/A", Some(("remote", "server-managed settings"))),
                ("/env/B", Some(("file", "managed-settings.json"))),
            ],
            split_warning: false,
        },
        Case {
            name: "the telemetry unit comes whole from the highest source that sets any of it",
            remote: json!({"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://remote.example.com"}}),
            file: json!({"env": {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "https://file.example.com",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_LOG_USER_PROMPTS": "1",
                "OTEL_METRICS_EXPORTER": "otlp"
            }}),
            expect: &[
                (
                    "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
                    Some(("https://remote.example.com", "server-managed settings")),
                ),
                ("/env/OTEL_EXPORTER_OTLP_PROTOCOL", None),
                ("/env/OTEL_LOG_USER_PROMPTS", None),
                (
                    "/env/OTEL_METRICS_EXPORTER",
                    Some(("otlp", "managed-settings.json")),
                ),
            ],
            split_warning: true,
        },
        Case {
            name: "a unit set in one source only is used whole",
            remote: json!({"model": "remote-model"}),
            file: json!({"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://file.example.com", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}}),
            expect: &[
                ("/model", Some(("remote-model", "server-managed settings"))),
                (
                    "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
                    Some(("https://file.example.com", "managed-settings.json")),
                ),
                (
                    "/env/OTEL_EXPORTER_OTLP_PROTOCOL",
                    Some(("grpc", "managed-settings.json")),
                ),
            ],
            split_warning: false,
        },
    ];
    for case in cases {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::under_root(Platform::Linux, root.path());
        write(&layout.managed_file(), &case.file);
        let user = root.path().join("home/.claude/settings.json");
        write(&user, &json!({}));
        write(
            &root.path().join("home/.claude/remote-settings.json"),
            &case.remote,
        );
        let sources = Sources::read(&layout, Some(&user), None);
        assert_eq!(
            sources.sources[0].label, "server-managed settings",
            "{}",
            case.name
        );
        let effective = sources.effective();
        for (pointer, want) in case.expect {
            let got = effective.iter().find(|e| e.pointer == *pointer);
            match (want, got) {
                (None, None) => {}
                (Some((value, source)), Some(e)) => {
                    assert_eq!(e.value, json!(value), "{}: {pointer}", case.name);
                    assert_eq!(e.source, *source, "{}: {pointer}", case.name);
                }
                _ => panic!("{}: {pointer}: want {want:?}, got {got:?}", case.name),
            }
        }
        let warnings = sources.shadow_warnings(&Target::Managed, &case.file);
        let split = warnings
            .iter()
            .any(|w| w.message.contains("split across managed sources"));
        assert_eq!(split, case.split_warning, "{}: {warnings:?}", case.name);
        // The file is ignored (first-wins) whenever the remote source delivers policy.
        assert!(
            warnings
                .iter()
                .any(|w| w.message.contains("ignores managed-settings.json")),
            "{}: {warnings:?}",
            case.name
        );
    }
}
