//! `ccscope settings export`: one policy as the files fleet tools deploy, read back by real
//! parsers — Python's plistlib for the configuration profile, a regedit-format reader
//! (`tests/mdm/parse_reg.py`) for the registry file — and compared with the policy; invalid
//! policies refused with exit 1 and nothing written.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ccscope, tempdir};
use serde_json::{Value, json};

fn policy() -> Value {
    json!({
        "permissions": {"disableBypassPermissionsMode": "disable", "deny": ["Bash(curl:*)"]},
        "env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example.com:4317",
            "OTEL_RESOURCE_ATTRIBUTES": "department=platform,cost_center=cc-1001"
        },
        "companyAnnouncements": ["Grüße from \"IT\": policies live in C:\\policies"],
        "cleanupPeriodDays": 30,
        "includeCoAuthoredBy": false
    })
}

fn python(script: &str, args: &[&Path]) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

#[test]
fn each_format_reads_back_as_the_policy() {
    let dir = tempdir();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&policy()).expect("json")).expect("write");
    let f = file.to_string_lossy().into_owned();
    let export = |format: &str, name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = out.to_string_lossy().into_owned();
        let mut args = vec![
            "settings",
            "export",
            f.as_str(),
            "--format",
            format,
            "-o",
            o.as_str(),
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = ccscope(&args);
        assert_eq!(code, 0, "export {format}: {err}");
        out
    };

    // The profile: Python's plistlib reads it; the forced preferences are the policy.
    let profile = export(
        "mobileconfig",
        "p.mobileconfig",
        &["--organization", "Example Corp"],
    );
    let read = python(
        "import json, plistlib, sys\n\
         p = plistlib.load(open(sys.argv[1], 'rb'))\n\
         payload = p['PayloadContent'][0]\n\
         forced = payload['PayloadContent']['com.anthropic.claudecode']['Forced'][0]['mcx_preference_settings']\n\
         print(json.dumps({'org': p['PayloadOrganization'], 'type': p['PayloadType'], 'uuid': p['PayloadUUID'], \
         'payload_type': payload['PayloadType'], 'payload_uuid': payload['PayloadUUID'], 'settings': forced}))",
        &[&profile],
    );
    assert_eq!(read["settings"], policy());
    assert_eq!(read["org"], "Example Corp");
    assert_eq!(read["type"], "Configuration");
    assert_eq!(read["payload_type"], "com.apple.ManagedClient.preferences");
    assert_ne!(read["uuid"], read["payload_uuid"]);
    // Stable UUIDs: the same policy exported again is the same profile.
    let again = export(
        "mobileconfig",
        "p2.mobileconfig",
        &["--organization", "Example Corp"],
    );
    assert_eq!(
        std::fs::read(&profile).expect("read"),
        std::fs::read(&again).expect("read")
    );

    // The registry file: HKLM policy value Settings holds the policy as one line of JSON.
    let reg = export("reg", "p.reg", &[]);
    let parser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mdm/parse_reg.py");
    let out = Command::new("python3")
        .arg(&parser)
        .arg(&reg)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let value = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\ClaudeCode"]["Settings"]
        .as_str()
        .expect("Settings value");
    assert!(!value.contains('\n'));
    assert_eq!(
        serde_json::from_str::<Value>(value).expect("JSON"),
        policy()
    );

    // The Intune script writes the same document.
    let script = std::fs::read_to_string(export("ps1", "p.ps1", &[])).expect("read");
    assert!(script.contains(r"$env:ProgramFiles 'ClaudeCode'") && script.contains("Remove-Item"));
    let body = script
        .split("@'\r\n")
        .nth(1)
        .and_then(|rest| rest.split("\r\n'@").next())
        .expect("here-string");
    assert_eq!(serde_json::from_str::<Value>(body).expect("JSON"), policy());

    // The drop-in is the policy.
    let dropin = export("json", "50-policy.json", &[]);
    let text = std::fs::read_to_string(dropin).expect("read");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON"),
        policy()
    );
}

#[test]
fn an_invalid_policy_is_refused_and_nothing_is_written() {
    let dir = tempdir();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, br#"{"cleanupPeriodDays": "thirty"}"#).expect("write");
    let out = dir.path().join("bad.mobileconfig");
    let (code, _, err) = ccscope(&[
        "settings",
        "export",
        &file.to_string_lossy(),
        "--format",
        "mobileconfig",
        "-o",
        &out.to_string_lossy(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("/cleanupPeriodDays") && err.contains("not exported"),
        "{err}"
    );
    assert!(!out.exists());
    let (code, _, err) = ccscope(&[
        "settings",
        "export",
        &file.to_string_lossy(),
        "--format",
        "pdf",
    ]);
    assert_eq!(code, 2, "{err}");
}
