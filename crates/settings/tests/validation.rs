//! Validation against SchemaStore's own examples and each semantic rule, accepting and rejecting.

use std::path::Path;

use ccscope_settings::{Report, Scope, Severity, canonical, parse, prepare, validate};
use serde_json::{Value, json};

fn examples(kind: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schema-examples")
        .join(kind);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_valid_schemastore_example_passes() {
    let valid = examples("valid");
    assert_eq!(valid.len(), 21);
    for (name, doc) in valid {
        let report = validate(&doc, Scope::Managed);
        assert!(report.is_valid(), "{name}: {:#?}", report.errors);
    }
}

#[test]
fn every_invalid_schemastore_example_fails_with_a_pointer_and_message() {
    let invalid = examples("invalid");
    assert_eq!(invalid.len(), 17);
    for (name, doc) in invalid {
        let report = validate(&doc, Scope::Managed);
        assert!(!report.is_valid(), "{name} passed");
        for e in &report.errors {
            assert!(
                e.pointer.is_empty() || e.pointer.starts_with('/'),
                "{name}: {e:?}"
            );
            assert!(!e.message.is_empty());
        }
    }
}

fn env_report(vars: Value) -> Report {
    validate(&json!({ "env": vars }), Scope::Managed)
}

fn error_at(report: &Report, pointer: &str) -> Option<String> {
    report
        .errors
        .iter()
        .find(|e| e.pointer == pointer)
        .map(|e| e.message.clone())
}

fn warning_at(report: &Report, pointer: &str) -> Option<String> {
    report
        .warnings
        .iter()
        .find(|e| e.pointer == pointer)
        .map(|e| e.message.clone())
}

#[test]
fn telemetry_switch_accepts_claude_codes_truthy_spellings() {
    for ok in ["1", "true", "yes", "on", "0", "false", "TRUE"] {
        let r = env_report(
            json!({"CLAUDE_CODE_ENABLE_TELEMETRY": ok, "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}),
        );
        assert!(r.is_valid(), "{ok}: {:?}", r.errors);
    }
    let r = env_report(json!({"CLAUDE_CODE_ENABLE_TELEMETRY": "enabled"}));
    let msg = error_at(&r, "/env/CLAUDE_CODE_ENABLE_TELEMETRY").unwrap();
    assert!(
        msg.contains("\"enabled\"") && msg.contains("\"1\""),
        "{msg}"
    );
}

#[test]
fn exporters_and_protocols_are_enums_per_signal() {
    let r = env_report(
        json!({"OTEL_METRICS_EXPORTER": "otlp,prometheus", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}),
    );
    assert!(r.is_valid(), "{:?}", r.errors);
    let r = env_report(json!({"OTEL_LOGS_EXPORTER": "prometheus"}));
    assert!(
        error_at(&r, "/env/OTEL_LOGS_EXPORTER")
            .unwrap()
            .contains("otlp, console, none")
    );
    let r = env_report(json!({"OTEL_EXPORTER_OTLP_PROTOCOL": "http"}));
    assert!(
        error_at(&r, "/env/OTEL_EXPORTER_OTLP_PROTOCOL")
            .unwrap()
            .contains("grpc, http/protobuf or http/json")
    );
    let r = env_report(json!({"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc "}));
    assert!(error_at(&r, "/env/OTEL_EXPORTER_OTLP_LOGS_PROTOCOL").is_some());
}

#[test]
fn endpoints_must_be_absolute_http_urls() {
    for ok in [
        "http://127.0.0.1:4318",
        "https://otel.example.com",
        "https://otel.example.com:4318/base",
    ] {
        assert!(
            env_report(json!({"OTEL_EXPORTER_OTLP_ENDPOINT": ok})).is_valid(),
            "{ok}"
        );
    }
    for (bad, needle) in [
        ("otel.example.com:4318", "absolute URL"),
        ("ftp://x", "http or https"),
        ("http://exa mple.com", "spaces"),
        ("", "absolute URL"),
    ] {
        let r = env_report(json!({"OTEL_EXPORTER_OTLP_ENDPOINT": bad}));
        let msg = error_at(&r, "/env/OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
        assert!(msg.contains(needle), "{bad}: {msg}");
    }
    let r = env_report(json!({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://c.example.com"}));
    assert!(
        warning_at(&r, "/env/OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .unwrap()
            .contains("/v1/metrics")
    );
    let r = env_report(
        json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c.example.com:4318", "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20x"}),
    );
    assert!(
        warning_at(&r, "/env/OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap()
            .contains("https")
    );
}

#[test]
fn intervals_are_positive_integers_within_node_timers() {
    assert!(
        env_report(
            json!({"OTEL_METRIC_EXPORT_INTERVAL": "60000", "OTEL_LOGS_EXPORT_INTERVAL": "5000"})
        )
        .is_valid()
    );
    for bad in ["0", "-5", "1.5", "60s", "", "99999999999"] {
        let r = env_report(json!({"OTEL_METRIC_EXPORT_INTERVAL": bad}));
        assert!(
            error_at(&r, "/env/OTEL_METRIC_EXPORT_INTERVAL").is_some(),
            "{bad} accepted"
        );
    }
    let r = env_report(json!({"OTEL_METRIC_EXPORT_INTERVAL": "100"}));
    assert!(r.is_valid() && warning_at(&r, "/env/OTEL_METRIC_EXPORT_INTERVAL").is_some());
}

#[test]
fn headers_are_name_value_pairs() {
    assert!(
        env_report(
            json!({"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,X-Tenant=acme"})
        )
        .is_valid()
    );
    for (bad, needle) in [
        ("Authorization", "no '='"),
        ("Bad Name=x", "not a valid HTTP header name"),
        ("a=1,,b=2", "empty"),
        ("a=%zz", "two hex digits"),
        ("a=%0A", "control characters"),
    ] {
        let r = env_report(json!({"OTEL_EXPORTER_OTLP_LOGS_HEADERS": bad}));
        let msg = error_at(&r, "/env/OTEL_EXPORTER_OTLP_LOGS_HEADERS").unwrap_or_default();
        assert!(msg.contains(needle), "{bad}: {msg}");
    }
}

#[test]
fn resource_attributes_follow_w3c_baggage_as_claude_code_parses_it() {
    for ok in [
        "department=engineering,team.id=platform",
        "cost_center=eng%20123",
        "a=",
        "",
    ] {
        let r = env_report(json!({"OTEL_RESOURCE_ATTRIBUTES": ok}));
        assert!(r.is_valid(), "{ok}: {:?}", r.errors);
    }
    for (bad, needle) in [
        ("department=R&D team", "space"),
        ("a=b=c", "second '='"),
        ("novalue", "no '='"),
        ("a=1,,b=2", "empty"),
        ("=x", "empty key"),
        ("k=v;x", "printable ASCII"),
        ("k=caf\u{e9}", "printable ASCII"),
        ("k=%G1", "two hex digits"),
    ] {
        let r = env_report(json!({"OTEL_RESOURCE_ATTRIBUTES": bad}));
        let msg = error_at(&r, "/env/OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
        assert!(msg.contains(needle), "{bad}: {msg}");
    }
    let long = format!("k={}", "v".repeat(256));
    assert!(!env_report(json!({"OTEL_RESOURCE_ATTRIBUTES": long})).is_valid());
}

#[test]
fn prompt_logging_and_cardinality_switches() {
    let r = env_report(
        json!({"OTEL_LOG_USER_PROMPTS": "1", "OTEL_METRICS_INCLUDE_SESSION_ID": "false", "OTEL_METRICS_INCLUDE_VERSION": "true", "OTEL_METRICS_INCLUDE_ACCOUNT_UUID": "false"}),
    );
    assert!(r.is_valid(), "{:?}", r.errors);
    assert!(
        warning_at(&r, "/env/OTEL_LOG_USER_PROMPTS")
            .unwrap()
            .contains("prompt")
    );
    for var in [
        "OTEL_LOG_USER_PROMPTS",
        "OTEL_METRICS_INCLUDE_SESSION_ID",
        "OTEL_METRICS_INCLUDE_VERSION",
        "OTEL_METRICS_INCLUDE_ACCOUNT_UUID",
    ] {
        let r = env_report(json!({ var: "sometimes" }));
        assert!(error_at(&r, &format!("/env/{var}")).is_some(), "{var}");
    }
}

#[test]
fn env_names_and_values() {
    let r = validate(
        &json!({"env": {"lower_case": "x", "9LIVES": "x", "OK_NAME": 3}}),
        Scope::Managed,
    );
    assert!(
        error_at(&r, "/env/lower_case")
            .unwrap()
            .contains("not a valid variable name")
    );
    assert!(error_at(&r, "/env/9LIVES").is_some());
    assert!(
        error_at(&r, "/env/OK_NAME").is_some(),
        "non-string value: {:?}",
        r.errors
    );
    let r = env_report(json!({"OTEL_EXPORTR_OTLP_ENDPOINT": "x"}));
    assert!(
        warning_at(&r, "/env/OTEL_EXPORTR_OTLP_ENDPOINT")
            .unwrap()
            .contains("spelling")
    );
    let r = env_report(json!({"CLAUDE_CODE_ENABLE_TELEMETRY": "1"}));
    assert!(
        warning_at(&r, "/env/CLAUDE_CODE_ENABLE_TELEMETRY")
            .unwrap()
            .contains("no exporter")
    );
}

#[test]
fn permission_rule_syntax() {
    let ok = json!({"permissions": {"allow": ["Bash(npm run *)", "Read", "mcp__github", "mcp__github__create_issue"], "deny": ["Read(./.env)"], "defaultMode": "acceptEdits", "disableBypassPermissionsMode": "disable"}});
    let r = validate(&ok, Scope::Managed);
    assert!(r.is_valid(), "{:?}", r.errors);
    for (rule, needle) in [
        ("Bash()", "empty specifier"),
        ("Bash(npm run", ""),
        ("mcp__", "names no MCP server"),
        ("NoSuchTool", ""),
        (" Read", ""),
    ] {
        let r = validate(&json!({"permissions": {"deny": [rule]}}), Scope::Managed);
        assert!(
            r.errors
                .iter()
                .any(|e| e.pointer == "/permissions/deny/0" && e.message.contains(needle)),
            "{rule}: {:?}",
            r.errors
        );
    }
    let r = validate(
        &json!({"permissions": {"allow": ["Bash"], "deny": ["Bash"]}}),
        Scope::Managed,
    );
    assert!(
        warning_at(&r, "/permissions/deny/0")
            .unwrap()
            .contains("deny wins")
    );
    let r = validate(
        &json!({"permissions": {"defaultMode": "yolo"}}),
        Scope::Managed,
    );
    assert!(error_at(&r, "/permissions/defaultMode").is_some());
    // Newer binary keys are accepted (SchemaStore would reject them); unknown ones warn.
    let r = validate(
        &json!({"permissions": {"denyInsteadOfPrompting": true, "blockWritesOutsideWorkingDirectories": true, "futureKey": 1}}),
        Scope::Managed,
    );
    assert!(r.is_valid(), "{:?}", r.errors);
    assert!(warning_at(&r, "/permissions/futureKey").is_some());
}

#[test]
fn fail_closed_keys_say_what_claude_code_does() {
    let r = validate(
        &json!({"allowManagedMcpServersOnly": "yes"}),
        Scope::Managed,
    );
    let e = r
        .errors
        .iter()
        .find(|e| e.pointer == "/allowManagedMcpServersOnly")
        .unwrap();
    assert!(
        e.consequence
            .as_deref()
            .unwrap()
            .starts_with("fails closed"),
        "{e:?}"
    );
    let r = validate(
        &json!({"allowedMcpServers": [{"serverName": "bad name"}]}),
        Scope::Managed,
    );
    assert!(r.errors.iter().any(|e| {
        e.pointer.starts_with("/allowedMcpServers/0")
            && e.consequence
                .as_deref()
                .unwrap()
                .contains("every MCP server is blocked")
    }));
    let r = validate(&json!({"cleanupPeriodDays": "ten"}), Scope::Managed);
    assert_eq!(
        r.errors[0].consequence.as_deref(),
        Some("Claude Code drops this key from the policy")
    );
    let r = validate(&json!({"cleanupPeriodDays": "ten"}), Scope::User);
    assert_eq!(
        r.errors[0].consequence.as_deref(),
        Some("Claude Code rejects the whole file")
    );
    let r = validate(&json!({"requiredMinimumVersion": "latest"}), Scope::Managed);
    assert!(r.is_valid());
    assert!(
        warning_at(&r, "/requiredMinimumVersion")
            .unwrap()
            .contains("fails open")
    );
}

#[test]
fn newer_binary_keys_are_typed_and_unknown_keys_are_warnings() {
    let r = validate(
        &json!({"managedSourcesBehavior": "merge", "deniedModels": ["claude-opus-4"], "autoUpdatesChannel": "rc", "hooks": {"PreModelSwitch": []}}),
        Scope::Managed,
    );
    assert!(r.is_valid(), "{:?}", r.errors);
    let r = validate(
        &json!({"managedSourcesBehavior": "sometimes"}),
        Scope::Managed,
    );
    assert!(error_at(&r, "/managedSourcesBehavior").is_some());
    let r = validate(&json!({"myCompanyKey": {"x": 1}}), Scope::Managed);
    assert!(r.is_valid());
    assert!(
        warning_at(&r, "/myCompanyKey")
            .unwrap()
            .contains("kept as is")
    );
    // Managed-only keys, from the docs and from the binary's own descriptions (reference §8).
    for key in [
        "allowManagedHooksOnly",
        "managedSourcesBehavior",
        "disableDirectMcpSkills",
        "allowClaudeInChromeWithManagedMcp",
    ] {
        let value = if key == "managedSourcesBehavior" {
            json!("merge")
        } else {
            json!(true)
        };
        let r = validate(&json!({ key: value }), Scope::User);
        assert!(
            warning_at(&r, &format!("/{key}"))
                .unwrap_or_default()
                .contains("only has an effect in managed settings"),
            "{key}: {:?}",
            r.warnings
        );
    }
    let r = validate(
        &json!({"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://x.example.com"}}),
        Scope::Project,
    );
    assert!(
        warning_at(&r, "/env/OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap()
            .contains("cannot set")
    );
}

#[test]
fn top_level_must_be_an_object_and_json_errors_have_positions() {
    let r = validate(&json!([1]), Scope::Managed);
    assert_eq!(r.errors[0].pointer, "");
    let e = parse("{\n  \"a\": 1,\n}").unwrap_err();
    assert_eq!((e.line, e.column > 0), (3, true));
    assert_eq!(error_at(&r, "").map(|m| m.contains("object")), Some(true));
}

#[test]
fn unknown_keys_survive_the_canonical_round_trip() {
    let text =
        r#"{"zzz":{"nested":[1,{"b":2,"a":null}],"n":1.5e300},"env":{"X_Y":"1"},"myKey":"é"}"#;
    let doc = parse(text).unwrap();
    let prepared = prepare(&doc, Scope::Managed);
    let back = parse(&prepared.bytes).unwrap();
    assert_eq!(back, doc);
    assert_eq!(
        prepared.sha256,
        canonical::sha256_hex(prepared.bytes.as_bytes())
    );
    assert!(
        prepared
            .report
            .warnings
            .iter()
            .any(|w| w.pointer == "/zzz" && w.severity == Severity::Warning)
    );
}

#[test]
fn the_usual_ports_must_match_the_protocol() {
    let cases = [
        (
            json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}),
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            Some("port 4317 is OTLP/gRPC's"),
        ),
        // No protocol: the SDK default is http/protobuf.
        (
            json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}),
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            Some("port 4317 is OTLP/gRPC's"),
        ),
        (
            json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}),
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            Some("port 4318 is OTLP/HTTP's"),
        ),
        (
            json!({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}),
            "/env/OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            Some("port 4318 is OTLP/HTTP's"),
        ),
        (
            json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}),
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            None,
        ),
        (
            json!({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:443", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}),
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            None,
        ),
    ];
    for (vars, pointer, expected) in cases {
        let report = env_report(vars.clone());
        let found = report
            .warnings
            .iter()
            .find(|w| w.pointer == pointer && w.message.contains("port 43"))
            .map(|w| w.message.clone());
        match expected {
            Some(text) => assert!(
                found.as_deref().is_some_and(|m| m.contains(text)),
                "{vars}: {found:?}"
            ),
            None => assert_eq!(found, None, "{vars}"),
        }
    }
}

#[test]
fn settings_that_run_commands_are_flagged() {
    let doc = json!({
        "apiKeyHelper": "/usr/local/bin/key",
        "otelHeadersHelper": "/usr/local/bin/headers",
        "statusLine": {"type": "command", "command": "echo hi"},
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]},
        "model": "opus"
    });
    let report = validate(&doc, Scope::Managed);
    for key in ["apiKeyHelper", "otelHeadersHelper", "statusLine", "hooks"] {
        let message = warning_at(&report, &format!("/{key}")).unwrap_or_default();
        assert!(
            message.contains("runs commands on the machine of every user"),
            "{key}: {message:?}"
        );
    }
    assert_eq!(warning_at(&report, "/model"), None);
}

#[test]
fn text_level_problems_say_what_they_are() {
    use ccscope_settings::parse_bytes;
    // A byte order mark.
    let error = parse_bytes(b"\xef\xbb\xbf{}").unwrap_err();
    assert!(error.message.contains("byte order mark (BOM)"), "{error}");
    // Not UTF-8, with where.
    let error = parse_bytes(b"{\n  \"model\": \"\xff\"}").unwrap_err();
    assert!(error.message.contains("not valid UTF-8"), "{error}");
    assert_eq!((error.line, error.column), (2, 13));
    // Over what the helper accepts.
    let big = format!(
        "{{\"x\": \"{}\"}}",
        "a".repeat(ccscope_settings::MAX_DOCUMENT_BYTES)
    );
    let error = parse_bytes(big.as_bytes()).unwrap_err();
    assert!(error.message.contains("1 MiB"), "{error}");
    // Repeated keys, at any depth, with pointers.
    let (doc, findings) =
        parse_bytes(br#"{"model": "a", "env": {"X": "1", "X": "2"}, "model": "b"}"#).unwrap();
    assert_eq!(doc["model"], "b");
    let pointers: Vec<&str> = findings.iter().map(|f| f.pointer.as_str()).collect();
    assert_eq!(pointers, ["/env/X", "/model"]);
    assert!(findings[1].message.contains("only its last value counts"));
    let (_, none) =
        parse_bytes(br#"{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 1}]}"#).unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn rules_in_two_lists_are_flagged_once_per_conflict_at_any_size() {
    let allow: Vec<String> = (0..20_000)
        .map(|i| format!("Bash(npm run t{i}:*)"))
        .collect();
    let doc = json!({"permissions": {
        "allow": allow,
        "deny": ["Bash(npm run t7:*)", "Bash(npm run t8:*)"],
        "ask": ["Bash(npm run t9:*)"]
    }});
    let report = validate(&doc, Scope::Managed);
    assert!(report.is_valid(), "{:?}", report.errors);
    let conflicts: Vec<(&str, &str)> = report
        .warnings
        .iter()
        .filter(|w| w.message.contains("is also in"))
        .map(|w| (w.pointer.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        conflicts,
        [
            (
                "/permissions/ask/0",
                "rule \"Bash(npm run t9:*)\" is also in allow; ask wins"
            ),
            (
                "/permissions/deny/0",
                "rule \"Bash(npm run t7:*)\" is also in allow; deny wins"
            ),
            (
                "/permissions/deny/1",
                "rule \"Bash(npm run t8:*)\" is also in allow; deny wins"
            ),
        ]
    );
}
