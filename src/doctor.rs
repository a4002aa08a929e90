//! `ccscope doctor`: checks the data directory, the store and the OTLP ports, and prints the
//! exact settings that point Claude Code at this receiver.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use ccscope_store::Reader;
use clap::Args;
use serde_json::json;

use crate::output::count;
use crate::range::local_time;
use crate::{DataDirArg, default_grpc, default_http, exit};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The OTLP/gRPC address `serve` uses
    #[arg(long, value_name = "ADDR", default_value_t = default_grpc())]
    otlp_grpc: SocketAddr,
    /// The OTLP/HTTP address `serve` uses
    #[arg(long, value_name = "ADDR", default_value_t = default_http())]
    otlp_http: SocketAddr,
    /// Include this bearer token in the printed settings
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CCSCOPE_OTLP_TOKEN",
        hide_env_values = true
    )]
    otlp_token: Option<String>,
}

enum PortState {
    Free,
    Ccscope,
    Taken,
}

/// True when something at `addr` answers like ccscope's OTLP/HTTP receiver.
fn answers_like_ccscope(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v1/logs HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut response);
    String::from_utf8_lossy(&response).contains("OTLP/HTTP exports use POST")
}

fn port_state(addr: SocketAddr, http: bool) -> PortState {
    match TcpListener::bind(addr) {
        Ok(_) => PortState::Free,
        Err(_) if http && answers_like_ccscope(addr) => PortState::Ccscope,
        Err(_) => PortState::Taken,
    }
}

fn endpoint_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

pub fn run(args: DoctorArgs) -> anyhow::Result<u8> {
    let mut problems = 0;
    let mut out = std::io::stdout().lock();
    let dir = args.data.resolve()?;
    let database = args.data.database()?;

    writeln!(out, "Data directory  {}", dir.display())?;
    match std::fs::create_dir_all(&dir).and_then(|_| {
        let probe = dir.join(".ccscope-doctor-probe");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(probe)
    }) {
        Ok(()) => writeln!(out, "  ok: writable")?,
        Err(error) => {
            problems += 1;
            writeln!(
                out,
                "  PROBLEM: not writable ({error}); pass --data-dir DIR to `serve`"
            )?;
        }
    }

    writeln!(out, "Store           {}", database.display())?;
    match Reader::open(&database).and_then(|r| r.health(&database)) {
        Ok(h) => {
            if h.integrity == "ok" {
                writeln!(
                    out,
                    "  ok: schema {}, integrity ok, {} MiB used",
                    h.schema_version,
                    h.used_bytes / (1 << 20)
                )?;
            } else {
                problems += 1;
                writeln!(out, "  PROBLEM: integrity check says {}", h.integrity)?;
            }
            writeln!(
                out,
                "  {} events, {} metric points, {} spans, {} sessions; newest {}",
                count(h.events as f64),
                count(h.points as f64),
                count(h.spans as f64),
                count(h.sessions as f64),
                h.newest_ns
                    .map(local_time)
                    .unwrap_or_else(|| "never".into())
            )?;
        }
        Err(ccscope_store::StoreError::Missing(_)) => {
            writeln!(
                out,
                "  not created yet: `ccscope serve` creates it on start"
            )?;
        }
        Err(error) => {
            problems += 1;
            writeln!(out, "  PROBLEM: {error}")?;
        }
    }

    for (name, addr, flag, http) in [
        ("OTLP/gRPC", args.otlp_grpc, "--otlp-grpc", false),
        ("OTLP/HTTP", args.otlp_http, "--otlp-http", true),
    ] {
        writeln!(out, "{name:<15} {addr}")?;
        match port_state(addr, http) {
            PortState::Free => writeln!(
                out,
                "  ok: free (ccscope serve is not running; start it to receive)"
            )?,
            PortState::Ccscope => writeln!(out, "  ok: ccscope serve is listening")?,
            PortState::Taken
                if !http && matches!(port_state(args.otlp_http, true), PortState::Ccscope) =>
            {
                writeln!(out, "  ok: in use, presumably by the running ccscope serve")?
            }
            PortState::Taken => {
                problems += 1;
                writeln!(
                    out,
                    "  PROBLEM: in use by another program; run `ccscope serve {flag} ADDR` with a free address"
                )?;
            }
        }
    }

    // Managed settings: where the helper is, and whether a policy already sets telemetry.
    match ccscope_settings::elevate::helper_path() {
        Ok(path) => {
            writeln!(out, "{:<15} {}", "Settings helper", path.display())?;
            writeln!(
                out,
                "  ok: `ccscope settings apply` and the Settings page can write managed settings"
            )?;
        }
        Err(e) => {
            writeln!(out, "{:<15} not found", "Settings helper")?;
            writeln!(out, "  note: {e}")?;
        }
    }
    let layout = ccscope_settings::paths::Layout::system();
    let sources = ccscope_settings::sources::Sources::read(&layout, None, None);
    let policy = sources.managed_policy();
    let managed = policy
        .get("env")
        .and_then(|e| e.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .and_then(|v| v.as_str());
    writeln!(
        out,
        "{:<15} {}",
        "Managed policy",
        layout.managed_file().display()
    )?;
    match managed {
        Some(endpoint) => writeln!(
            out,
            "  note: managed settings send Claude Code's telemetry to {endpoint}; user settings cannot change that"
        )?,
        None if policy.is_empty() => writeln!(out, "  ok: none on this machine")?,
        None => writeln!(out, "  ok: present, without a telemetry endpoint")?,
    }

    let mut env = serde_json::Map::new();
    env.insert("CLAUDE_CODE_ENABLE_TELEMETRY".into(), json!("1"));
    env.insert("OTEL_METRICS_EXPORTER".into(), json!("otlp"));
    env.insert("OTEL_LOGS_EXPORTER".into(), json!("otlp"));
    env.insert("OTEL_EXPORTER_OTLP_PROTOCOL".into(), json!("http/protobuf"));
    env.insert(
        "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
        json!(format!("http://{}", endpoint_host(args.otlp_http))),
    );
    env.insert("OTEL_METRIC_EXPORT_INTERVAL".into(), json!("10000"));
    if let Some(token) = &args.otlp_token {
        env.insert(
            "OTEL_EXPORTER_OTLP_HEADERS".into(),
            json!(format!("Authorization=Bearer%20{token}")),
        );
    }
    writeln!(
        out,
        "\nTo send Claude Code's telemetry here, put this in the \"env\" block of ~/.claude/settings.json"
    )?;
    writeln!(
        out,
        "(or of managed-settings.json to cover every user of this machine):\n"
    )?;
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&json!({ "env": env }))?
    )?;
    writeln!(out, "\nor, for one shell:\n")?;
    for (key, value) in &env {
        writeln!(out, "export {key}={}", value.as_str().unwrap_or_default())?;
    }
    writeln!(
        out,
        "\n(gRPC works too: OTEL_EXPORTER_OTLP_PROTOCOL=grpc with OTEL_EXPORTER_OTLP_ENDPOINT=http://{})",
        endpoint_host(args.otlp_grpc)
    )?;
    if problems > 0 {
        writeln!(out, "\n{problems} problem(s) found.")?;
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}
