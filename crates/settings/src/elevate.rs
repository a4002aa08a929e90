//! Running the settings helper with the operating system's own elevation prompt: pkexec on
//! Linux, `osascript … with administrator privileges` on macOS, UAC `runas` on Windows, or
//! directly when already root. The helper receives a document and a target name, never a path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::target::Target;
use crate::validate::Issue;

/// The helper's file name.
pub const HELPER_NAME: &str = if cfg!(windows) {
    "ccscope-settings-helper.exe"
} else {
    "ccscope-settings-helper"
};
/// Where the Linux packages install the helper (the polkit action names this path).
pub const INSTALLED_HELPER: &str = "/usr/bin/ccscope-settings-helper";
/// Overrides where the helper is looked for (an absolute path).
pub const HELPER_ENV: &str = "CCSCOPE_SETTINGS_HELPER";
/// The polkit action id shipped in the Linux packages.
pub const POLKIT_ACTION: &str = "dev.ccscope.settings-helper";

/// Exit codes of the helper (and of `ccscope settings`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const INVALID: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const PERMISSION: i32 = 3;
    pub const IO: i32 = 4;
    /// pkexec: the user dismissed the authentication dialog.
    pub const PKEXEC_CANCELLED: i32 = 126;
    /// pkexec: not authorised (or authentication failed).
    pub const PKEXEC_NOT_AUTHORISED: i32 = 127;
}

/// What the helper prints on stdout, success or not.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HelperReport {
    pub ok: bool,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// Id of the backup taken of the previous file, if there was one.
    #[serde(default)]
    pub backup: Option<String>,
    #[serde(default)]
    pub error: Option<HelperError>,
    #[serde(default)]
    pub issues: Vec<Issue>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HelperError {
    /// Stable machine-readable code, e.g. `hash_mismatch`, `unsafe_directory`.
    pub code: String,
    pub message: String,
}

/// What to ask the helper.
#[derive(Clone, Debug)]
pub enum HelperRequest {
    /// Write `document` (canonical bytes whose SHA-256 is `sha256`) to `target`.
    Apply {
        target: Target,
        document: Vec<u8>,
        sha256: String,
    },
    /// Put back backup `backup_id`.
    Restore { backup_id: String },
}

/// How the helper gets its privileges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Elevation {
    /// Already root: run it directly.
    Direct,
    Pkexec,
    Osascript,
    Runas,
}

impl Elevation {
    pub fn for_this_process() -> Elevation {
        if is_root() {
            Elevation::Direct
        } else if cfg!(target_os = "macos") {
            Elevation::Osascript
        } else if cfg!(windows) {
            Elevation::Runas
        } else {
            Elevation::Pkexec
        }
    }
}

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
pub fn is_root() -> bool {
    false
}

/// A command line to run.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchSpec {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
}

fn helper_args(request: &HelperRequest, inline_document: bool) -> (Vec<String>, Option<Vec<u8>>) {
    match request {
        HelperRequest::Apply {
            target,
            document,
            sha256,
        } => {
            let mut args = vec![
                "apply".into(),
                "--target".into(),
                target.name(),
                "--sha256".into(),
                sha256.clone(),
            ];
            if inline_document {
                args.push("--document-base64".into());
                args.push(base64::engine::general_purpose::STANDARD.encode(document));
                (args, None)
            } else {
                (args, Some(document.clone()))
            }
        }
        HelperRequest::Restore { backup_id } => (
            vec!["restore".into(), "--backup".into(), backup_id.clone()],
            None,
        ),
    }
}

fn sh_single_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn ps_single_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The command that runs `helper` for `request` under `elevation`. Every argument the helper
/// gets is a fixed flag, a validated target name or backup id, a hex hash or base64.
pub fn launch_spec(elevation: Elevation, helper: &Path, request: &HelperRequest) -> LaunchSpec {
    let helper_text = helper.display().to_string();
    match elevation {
        Elevation::Direct | Elevation::Pkexec => {
            let (args, stdin) = helper_args(request, false);
            if elevation == Elevation::Direct {
                LaunchSpec {
                    program: helper_text,
                    args,
                    stdin,
                }
            } else {
                let mut all = vec![helper_text];
                all.extend(args);
                LaunchSpec {
                    program: "pkexec".into(),
                    args: all,
                    stdin,
                }
            }
        }
        Elevation::Osascript => {
            let (args, _) = helper_args(request, true);
            let mut line = sh_single_quote(&helper_text);
            for a in &args {
                line.push(' ');
                line.push_str(&sh_single_quote(a));
            }
            let escaped = line.replace('\\', "\\\\").replace('"', "\\\"");
            LaunchSpec {
                program: "/usr/bin/osascript".into(),
                args: vec![
                    "-e".into(),
                    format!("do shell script \"{escaped}\" with administrator privileges"),
                ],
                stdin: None,
            }
        }
        Elevation::Runas => {
            let (args, _) = helper_args(request, true);
            let list: Vec<String> = args.iter().map(|a| ps_single_quote(a)).collect();
            let script = format!(
                "$p = Start-Process -FilePath {} -ArgumentList @({}) -Verb RunAs -Wait -PassThru -WindowStyle Hidden; exit $p.ExitCode",
                ps_single_quote(&helper_text),
                list.join(",")
            );
            LaunchSpec {
                program: "powershell.exe".into(),
                args: vec![
                    "-NoProfile".into(),
                    "-NonInteractive".into(),
                    "-Command".into(),
                    script,
                ],
                stdin: None,
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ElevateError {
    #[error(
        "the settings helper ({HELPER_NAME}) was not found next to this program nor at {INSTALLED_HELPER}; install the ccscope package or set {HELPER_ENV}"
    )]
    HelperMissing,
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the helper is: `$CCSCOPE_SETTINGS_HELPER`, beside this executable, or installed.
pub fn helper_path() -> Result<PathBuf, ElevateError> {
    if let Some(p) = std::env::var_os(HELPER_ENV)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Ok(p);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(HELPER_NAME)))
        .filter(|p| p.is_file());
    if let Some(p) = beside {
        return Ok(p);
    }
    let installed = PathBuf::from(INSTALLED_HELPER);
    if installed.is_file() {
        return Ok(installed);
    }
    Err(ElevateError::HelperMissing)
}

/// How a helper run ended.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HelperOutcome {
    /// The helper ran; `report.ok` says whether it wrote.
    Ran {
        exit_code: i32,
        report: HelperReport,
    },
    /// The user dismissed the elevation prompt.
    Cancelled,
    /// The user is not allowed to elevate (or authentication failed).
    NotAuthorised,
    /// Anything else: the helper crashed, printed nothing usable, …
    Failed {
        exit_code: Option<i32>,
        message: String,
    },
}

/// Classifies a finished helper process.
pub fn classify(
    elevation: Elevation,
    code: Option<i32>,
    stdout: &[u8],
    stderr: &[u8],
) -> HelperOutcome {
    let stderr_text = String::from_utf8_lossy(stderr);
    if let Ok(report) = serde_json::from_slice::<HelperReport>(stdout) {
        return HelperOutcome::Ran {
            exit_code: code.unwrap_or(-1),
            report,
        };
    }
    match (elevation, code) {
        (Elevation::Pkexec, Some(exit::PKEXEC_CANCELLED)) => return HelperOutcome::Cancelled,
        (Elevation::Pkexec, Some(exit::PKEXEC_NOT_AUTHORISED)) => {
            return HelperOutcome::NotAuthorised;
        }
        _ => {}
    }
    let lower = stderr_text.to_ascii_lowercase();
    if lower.contains("user canceled")
        || lower.contains("(-128)")
        || lower.contains("canceled by the user")
    {
        return HelperOutcome::Cancelled;
    }
    if lower.contains("not authorized") || lower.contains("not authorised") {
        return HelperOutcome::NotAuthorised;
    }
    if matches!(elevation, Elevation::Osascript | Elevation::Runas)
        && let Some(code) = code
    {
        // These launchers do not pass the helper's stdout back; its exit code is the result.
        let report = HelperReport {
            ok: code == exit::OK,
            // Filled in by `run_helper`, which knows what was asked.
            action: String::new(),
            target: None,
            path: None,
            sha256: None,
            backup: None,
            error: (code != exit::OK).then(|| HelperError {
                code: format!("exit_{code}"),
                message: stderr_text.trim().to_owned(),
            }),
            issues: Vec::new(),
        };
        return HelperOutcome::Ran {
            exit_code: code,
            report,
        };
    }
    HelperOutcome::Failed {
        exit_code: code,
        message: if stderr_text.trim().is_empty() {
            "the settings helper printed no result".into()
        } else {
            stderr_text.trim().to_owned()
        },
    }
}

/// Runs the helper for `request` with this process's elevation method; blocks until it ends
/// (the OS prompt may wait for the user).
pub fn run_helper(request: &HelperRequest) -> Result<HelperOutcome, ElevateError> {
    let helper = helper_path()?;
    let elevation = Elevation::for_this_process();
    let spec = launch_spec(elevation, &helper, request);
    tracing::info!(program = %spec.program, elevation = ?elevation, "running the settings helper");
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ElevateError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.as_ref(), child.stdin.take()) {
        // A helper that exits early closes the pipe; its report says why.
        let _ = stdin.write_all(bytes);
    }
    let output = child
        .wait_with_output()
        .map_err(|source| ElevateError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
    let mut outcome = classify(
        elevation,
        output.status.code(),
        &output.stdout,
        &output.stderr,
    );
    if let HelperOutcome::Ran { report, .. } = &mut outcome
        && report.action.is_empty()
    {
        report.action = match request {
            HelperRequest::Apply { .. } => "apply",
            HelperRequest::Restore { .. } => "restore",
        }
        .into();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply() -> HelperRequest {
        HelperRequest::Apply {
            target: Target::Managed,
            document: b"{}\n".to_vec(),
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn pkexec_gets_the_absolute_helper_and_the_document_on_stdin() {
        let spec = launch_spec(
            Elevation::Pkexec,
            Path::new("/usr/bin/ccscope-settings-helper"),
            &apply(),
        );
        assert_eq!(spec.program, "pkexec");
        assert_eq!(spec.args[0], "/usr/bin/ccscope-settings-helper");
        assert_eq!(
            &spec.args[1..],
            [
                "apply",
                "--target",
                "managed-settings.json",
                "--sha256",
                &"ab".repeat(32)
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(&b"{}\n"[..]));
        let direct = launch_spec(
            Elevation::Direct,
            Path::new("/x/helper"),
            &HelperRequest::Restore {
                backup_id: "b".into(),
            },
        );
        assert_eq!(
            (direct.program.as_str(), direct.args.as_slice()),
            (
                "/x/helper",
                &["restore".to_owned(), "--backup".into(), "b".into()][..]
            )
        );
    }

    #[test]
    fn osascript_quotes_the_helper_path_and_inlines_the_document() {
        let spec = launch_spec(
            Elevation::Osascript,
            Path::new("/Applications/cc scope's.app/helper"),
            &apply(),
        );
        assert_eq!(spec.program, "/usr/bin/osascript");
        let script = &spec.args[1];
        assert!(
            script.starts_with(
                "do shell script \"'/Applications/cc scope'\\\\''s.app/helper' 'apply'"
            ),
            "{script}"
        );
        assert!(script.contains("'--document-base64' 'e30K'"), "{script}");
        assert!(script.ends_with("\" with administrator privileges"));
        assert!(spec.stdin.is_none());
    }

    #[test]
    fn runas_passes_an_argument_array() {
        let spec = launch_spec(
            Elevation::Runas,
            Path::new(r"C:\Program Files\ccscope\it's.exe"),
            &apply(),
        );
        assert_eq!(spec.program, "powershell.exe");
        let script = spec.args.last().unwrap();
        assert!(
            script.contains(r"-FilePath 'C:\Program Files\ccscope\it''s.exe'"),
            "{script}"
        );
        assert!(
            script.contains("-ArgumentList @('apply','--target','managed-settings.json'"),
            "{script}"
        );
        assert!(script.contains("-Verb RunAs"));
    }

    #[test]
    fn pkexec_exit_codes_mean_cancelled_and_not_authorised() {
        assert_eq!(
            classify(Elevation::Pkexec, Some(126), b"", b""),
            HelperOutcome::Cancelled
        );
        assert_eq!(
            classify(
                Elevation::Pkexec,
                Some(127),
                b"",
                b"Error executing command as another user: Not authorized"
            ),
            HelperOutcome::NotAuthorised
        );
        assert_eq!(
            classify(
                Elevation::Osascript,
                Some(1),
                b"",
                b"execution error: User canceled. (-128)"
            ),
            HelperOutcome::Cancelled
        );
        let ran = classify(
            Elevation::Direct,
            Some(1),
            br#"{"ok":false,"action":"apply","error":{"code":"hash_mismatch","message":"m"}}"#,
            b"",
        );
        assert!(
            matches!(ran, HelperOutcome::Ran { exit_code: 1, report } if report.error.clone().unwrap().code == "hash_mismatch")
        );
        assert!(matches!(
            classify(Elevation::Direct, Some(101), b"", b"panic"),
            HelperOutcome::Failed { .. }
        ));
    }
}
