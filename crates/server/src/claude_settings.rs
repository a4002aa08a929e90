//! First run: put the settings that point Claude Code at this receiver into the user's own
//! `~/.claude/settings.json` (`$CLAUDE_CONFIG_DIR/settings.json` when set). No elevation: it is
//! the user's file. The `env` block is merged key by key, every other key and the key order are
//! kept, the previous file is backed up first, and the new one replaces it atomically. A file
//! that is not a JSON object is never overwritten.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot find the home directory to locate ~/.claude/settings.json")]
    NoHome,
    #[error("{path} is not valid JSON ({source}); fix or move it, then try again")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} is not a JSON object{detail}; fix or move it, then try again")]
    NotAnObject { path: PathBuf, detail: &'static str },
    #[error(transparent)]
    Read(#[from] ccscope_settings::file::ReadError),
    #[error("{path} is not UTF-8 text; fix or move it, then try again")]
    NotText { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The user's settings file.
pub fn settings_path() -> Result<PathBuf, SettingsError> {
    ccscope_settings::paths::user_settings_file().ok_or(SettingsError::NoHome)
}

/// The `env` entries that send Claude Code's telemetry to the OTLP/HTTP receiver at `http`
/// (with `traces`, its spans too: where each prompt's time went).
pub fn telemetry_env(http: &str, token: Option<&str>, traces: bool) -> Map<String, Value> {
    let mut env = Map::new();
    for (k, v) in [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{http}")),
        ("OTEL_METRIC_EXPORT_INTERVAL", "10000".to_owned()),
    ] {
        env.insert(k.to_owned(), Value::String(v));
    }
    if traces {
        for (k, v) in [
            ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ] {
            env.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    }
    if let Some(token) = token {
        env.insert(
            "OTEL_EXPORTER_OTLP_HEADERS".into(),
            Value::String(format!("Authorization=Bearer%20{token}")),
        );
    }
    env
}

/// What applying would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub path: PathBuf,
    pub current: Option<String>,
    pub proposed: String,
    /// A unified diff from the current text to the proposed one.
    pub diff: String,
    /// True when the file already holds every entry.
    pub unchanged: bool,
}

/// The file's text: only a regular file, capped (it is the user's, but may be a link).
fn read(path: &Path) -> Result<Option<String>, SettingsError> {
    let bytes = ccscope_settings::file::read_regular_file(
        path,
        ccscope_settings::sources::MAX_SETTINGS_FILE_BYTES,
    )?;
    bytes
        .map(|b| {
            String::from_utf8(b).map_err(|_| SettingsError::NotText {
                path: path.to_path_buf(),
            })
        })
        .transpose()
}

/// Works out the merged file without writing anything.
pub fn plan(path: &Path, env: &Map<String, Value>) -> Result<Plan, SettingsError> {
    let current = read(path)?;
    let mut document = match current.as_deref().map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(SettingsError::NotAnObject {
                    path: path.to_path_buf(),
                    detail: "",
                });
            }
            Err(source) => {
                return Err(SettingsError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                });
            }
        },
    };
    let block = document
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(block) = block else {
        return Err(SettingsError::NotAnObject {
            path: path.to_path_buf(),
            detail: " (its \"env\" is not an object)",
        });
    };
    let mut unchanged = current.is_some();
    for (key, value) in env {
        if block.get(key) != Some(value) {
            unchanged = false;
            block.insert(key.clone(), value.clone());
        }
    }
    let mut proposed = serde_json::to_string_pretty(&Value::Object(document)).unwrap_or_default();
    proposed.push('\n');
    let before = current.clone().unwrap_or_default();
    let diff = ccscope_settings::canonical::unified_diff("settings.json", &before, &proposed);
    Ok(Plan {
        path: path.to_path_buf(),
        current,
        proposed,
        diff,
        unchanged,
    })
}

/// Writes the plan: backup of the previous file (if any), then an atomic replace. Returns the
/// backup's path.
pub fn apply(plan: &Plan, now_s: i64) -> Result<Option<PathBuf>, SettingsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SettingsError::Io { path, source }
    };
    let dir = plan.path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // The file may have changed since the plan was shown: refuse to clobber it.
    if read(&plan.path)? != plan.current {
        return Err(SettingsError::Io {
            path: plan.path.clone(),
            source: std::io::Error::other("the file changed since the preview; preview again"),
        });
    }
    let mut backup = None;
    if plan.current.is_some() {
        let name = format!(
            "{}.ccscope-backup-{now_s}",
            plan.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("settings.json")
        );
        let target = dir.join(name);
        std::fs::copy(&plan.path, &target).map_err(io(&target))?;
        backup = Some(target);
    }
    let temp = dir.join(format!(".settings.json.ccscope-{}", std::process::id()));
    std::fs::write(&temp, &plan.proposed).map_err(io(&temp))?;
    if let Ok(meta) = std::fs::metadata(&plan.path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    let file = std::fs::File::open(&temp).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    std::fs::rename(&temp, &plan.path).map_err(io(&plan.path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_env_keeps_everything_else_and_backs_up() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, r#"{"model": "opus", "env": {"FOO": "bar", "OTEL_LOGS_EXPORTER": "console"}, "zeta": [1]}"#).expect("write");
        let env = telemetry_env("127.0.0.1:4318", None, false);
        let p = plan(&path, &env).expect("plan");
        assert!(!p.unchanged);
        assert!(
            p.diff
                .contains("+    \"OTEL_EXPORTER_OTLP_ENDPOINT\": \"http://127.0.0.1:4318\""),
            "{}",
            p.diff
        );
        let backup = apply(&p, 42).expect("apply").expect("backup");
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(written["model"], "opus");
        assert_eq!(written["zeta"], serde_json::json!([1]));
        assert_eq!(written["env"]["FOO"], "bar");
        assert_eq!(written["env"]["OTEL_LOGS_EXPORTER"], "otlp");
        let keys: Vec<&String> = written.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["model", "env", "zeta"], "key order kept");
        assert!(
            std::fs::read_to_string(backup)
                .expect("backup")
                .contains("console")
        );
        assert!(plan(&path, &env).expect("again").unchanged);
    }

    #[test]
    fn a_broken_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{ not json").expect("write");
        assert!(matches!(
            plan(&path, &telemetry_env("h:1", None, false)),
            Err(SettingsError::Unreadable { .. })
        ));
        std::fs::write(&path, "[1, 2]").expect("write");
        assert!(matches!(
            plan(&path, &telemetry_env("h:1", None, false)),
            Err(SettingsError::NotAnObject { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[1, 2]");
    }

    #[test]
    fn a_missing_file_is_created_without_backup() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("new/settings.json");
        let p = plan(&path, &telemetry_env("h:1", Some("tok"), false)).expect("plan");
        assert_eq!(apply(&p, 1).expect("apply"), None);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(
            written["env"]["OTEL_EXPORTER_OTLP_HEADERS"],
            "Authorization=Bearer%20tok"
        );
    }
}
