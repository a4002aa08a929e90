//! Running the settings helper with the operating system's own elevation prompt: pkexec on
//! Linux, `osascript … with administrator privileges` on macOS, UAC `runas` on Windows, or
//! directly when already root. The helper receives a document and a target name, never a path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
/// Names the helper to run (an absolute path). Honoured only by builds with the `test-hooks`
/// feature: a shipped build runs only a root-owned, installed helper.
pub const HELPER_ENV: &str = "CCSCOPE_SETTINGS_HELPER";
/// pkexec, by absolute path (a `PATH` entry cannot stand in for it).
pub const PKEXEC: &str = "/usr/bin/pkexec";
/// osascript, by absolute path.
pub const OSASCRIPT: &str = "/usr/bin/osascript";
/// What `--expect-current-sha256` takes for "the file does not exist yet".
pub const ABSENT: &str = "absent";
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
        /// The SHA-256 of the file the preview was made from (or [`ABSENT`]): the helper
        /// refuses to write over a file that changed since, so a stale preview cannot undo a
        /// newer change. `None` skips the check.
        expect_current: Option<String>,
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

/// The helper's arguments; the document goes on stdin, or (for launchers without one) in the
/// file `document_file`, which the helper reads and checks against the approved hash.
fn helper_args(request: &HelperRequest, document_file: Option<&Path>) -> Vec<String> {
    match request {
        HelperRequest::Apply {
            target,
            sha256,
            expect_current,
            ..
        } => {
            let mut args = vec![
                "apply".into(),
                "--target".into(),
                target.name(),
                "--sha256".into(),
                sha256.clone(),
            ];
            if let Some(current) = expect_current {
                args.push("--expect-current-sha256".into());
                args.push(current.clone());
            }
            if let Some(file) = document_file {
                args.push("--document-file".into());
                args.push(file.display().to_string());
            }
            args
        }
        HelperRequest::Restore { backup_id } => {
            vec!["restore".into(), "--backup".into(), backup_id.clone()]
        }
    }
}

/// What the elevation prompt says is being done, with the document's SHA-256 where there is
/// one, so the admin can match it against the preview.
pub fn prompt_text(request: &HelperRequest) -> String {
    match request {
        HelperRequest::Apply { target, sha256, .. } => format!(
            "ccscope wants to write Claude Code's managed settings ({}), document SHA-256 {sha256}.",
            target.name()
        ),
        HelperRequest::Restore { backup_id } => format!(
            "ccscope wants to restore Claude Code's managed settings from backup {backup_id}."
        ),
    }
}

fn sh_single_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// PowerShell treats all five of these as a single quote inside a single-quoted string
/// (its `IsSingleQuote`: ' ‘ ’ ‚ ‛); each is doubled.
const PS_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

fn ps_single_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if PS_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Windows PowerShell by absolute path, under the system root.
fn powershell() -> String {
    let root = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\Windows".into());
    format!(r"{root}\System32\WindowsPowerShell\v1.0\powershell.exe")
}

/// Whether `elevation` hands the document over in a file rather than on stdin.
pub fn uses_document_file(elevation: Elevation) -> bool {
    matches!(elevation, Elevation::Osascript | Elevation::Runas)
}

/// The command that runs `helper` for `request` under `elevation`. Every argument the helper
/// gets is a fixed flag, a validated target name or backup id, a hex hash, or the path of the
/// document file (whose content must match the approved hash).
pub fn launch_spec(
    elevation: Elevation,
    helper: &Path,
    request: &HelperRequest,
    document_file: Option<&Path>,
) -> LaunchSpec {
    let helper_text = helper.display().to_string();
    let stdin = match request {
        HelperRequest::Apply { document, .. } if document_file.is_none() => Some(document.clone()),
        _ => None,
    };
    let args = helper_args(request, document_file);
    match elevation {
        Elevation::Direct => LaunchSpec {
            program: helper_text,
            args,
            stdin,
        },
        Elevation::Pkexec => {
            let mut all = vec![helper_text];
            all.extend(args);
            LaunchSpec {
                program: PKEXEC.into(),
                args: all,
                stdin,
            }
        }
        Elevation::Osascript => {
            let mut line = sh_single_quote(&helper_text);
            for a in &args {
                line.push(' ');
                line.push_str(&sh_single_quote(a));
            }
            let applescript = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
            LaunchSpec {
                program: OSASCRIPT.into(),
                args: vec![
                    "-e".into(),
                    format!(
                        "do shell script \"{}\" with prompt \"{}\" with administrator privileges",
                        applescript(&line),
                        applescript(&prompt_text(request))
                    ),
                ],
                stdin: None,
            }
        }
        Elevation::Runas => {
            let list: Vec<String> = args.iter().map(|a| ps_single_quote(a)).collect();
            let script = format!(
                "$p = Start-Process -FilePath {} -ArgumentList @({}) -Verb RunAs -Wait -PassThru -WindowStyle Hidden; exit $p.ExitCode",
                ps_single_quote(&helper_text),
                list.join(",")
            );
            LaunchSpec {
                program: powershell(),
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
        "the settings helper ({HELPER_NAME}) is not installed: install the ccscope package (it puts a root-owned helper at {INSTALLED_HELPER}), or run ccscope as root"
    )]
    HelperMissing,
    #[error(
        "refusing to run the settings helper {path} with administrator rights: {why}. Only a root-owned helper in root-owned directories is run; install the ccscope package"
    )]
    UntrustedHelper { path: PathBuf, why: String },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot hand the document to the helper: {0}")]
    DocumentFile(std::io::Error),
}

/// Why `path` may not be run with administrator rights, if it may not: on Unix it and every
/// directory above it must be owned by root and writable by nobody else (so no other user
/// could have replaced it); on Windows it must sit under Program Files as the known-folder API
/// names it (not as an environment variable the user can set), and be owned by
/// Administrators, SYSTEM or TrustedInstaller.
pub fn untrusted_reason(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) => return Some(format!("cannot inspect it: {e}")),
        };
        if !meta.is_file() {
            return Some("it is not a regular file".into());
        }
        let mut check = Some(path);
        while let Some(p) = check {
            let meta = match std::fs::metadata(p) {
                Ok(meta) => meta,
                Err(e) => return Some(format!("cannot inspect {}: {e}", p.display())),
            };
            if meta.uid() != 0 {
                return Some(format!(
                    "{} is owned by uid {}, not root",
                    p.display(),
                    meta.uid()
                ));
            }
            // A sticky, world-writable directory (/tmp) still lets others replace files.
            if meta.mode() & 0o022 != 0 {
                return Some(format!(
                    "{} is writable by group or others (mode {:o})",
                    p.display(),
                    meta.mode() & 0o7777
                ));
            }
            check = p.parent().filter(|parent| !parent.as_os_str().is_empty());
        }
        None
    }
    #[cfg(windows)]
    {
        windows_trust::untrusted_reason(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Some("this platform has no installed helper".into())
    }
}

#[cfg(windows)]
mod windows_trust {
    use std::ffi::OsString;
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use windows_sys::Win32::Foundation::{ERROR_SUCCESS, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
    };
    use windows_sys::Win32::Security::{
        IsWellKnownSid, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
        WinBuiltinAdministratorsSid, WinLocalSystemSid,
    };
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{
        FOLDERID_ProgramFiles, KF_FLAG_DEFAULT, SHGetKnownFolderPath,
    };
    use windows_sys::core::PWSTR;

    /// NT SERVICE\TrustedInstaller, which owns what Windows itself installs.
    const TRUSTED_INSTALLER_SID: &str =
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

    fn wide(p: PWSTR) -> OsString {
        // SAFETY: `p` is a NUL-terminated string the system allocated.
        let len = (0..).take_while(|&i| unsafe { *p.add(i) } != 0).count();
        // SAFETY: `len` UTF-16 units were just read.
        OsString::from_wide(unsafe { std::slice::from_raw_parts(p, len) })
    }

    /// Program Files as the shell's known-folder API names it.
    fn program_files() -> Option<PathBuf> {
        let mut out: PWSTR = std::ptr::null_mut();
        // SAFETY: a valid GUID, no token, an out pointer the call fills.
        let hr = unsafe {
            SHGetKnownFolderPath(
                &FOLDERID_ProgramFiles,
                KF_FLAG_DEFAULT as u32,
                std::ptr::null_mut(),
                &mut out,
            )
        };
        let path = (hr >= 0 && !out.is_null()).then(|| PathBuf::from(wide(out)));
        // SAFETY: the buffer is the call's, freed once (null is allowed).
        unsafe { CoTaskMemFree(out as *const _) };
        path
    }

    /// Whether the file's owner is Administrators, SYSTEM or TrustedInstaller.
    fn owner_trusted(path: &Path) -> Result<bool, String> {
        let name: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let mut owner: PSID = std::ptr::null_mut();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: a NUL-terminated name; out pointers the call fills; `owner` points into
        // `descriptor`, which is freed below after its last use.
        let status = unsafe {
            GetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION,
                &mut owner,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut descriptor,
            )
        };
        if status != ERROR_SUCCESS {
            return Err(format!("cannot read its owner (error {status})"));
        }
        // SAFETY: `owner` is a valid SID inside `descriptor`.
        let trusted = unsafe {
            IsWellKnownSid(owner, WinBuiltinAdministratorsSid) != 0
                || IsWellKnownSid(owner, WinLocalSystemSid) != 0
                || {
                    let mut text: PWSTR = std::ptr::null_mut();
                    let ok = ConvertSidToStringSidW(owner, &mut text) != 0;
                    let matches = ok && wide(text) == TRUSTED_INSTALLER_SID;
                    if !text.is_null() {
                        LocalFree(text as _);
                    }
                    matches
                }
        };
        // SAFETY: allocated by GetNamedSecurityInfoW, freed once.
        unsafe { LocalFree(descriptor as _) };
        Ok(trusted)
    }

    pub(super) fn untrusted_reason(path: &Path) -> Option<String> {
        let Some(program_files) = program_files() else {
            return Some("Windows did not name its Program Files folder".into());
        };
        // Both resolved, so `..` or a link cannot make a path look as if it were inside.
        let (Ok(file), Ok(dir)) = (
            std::fs::canonicalize(path),
            std::fs::canonicalize(&program_files),
        ) else {
            return Some(format!("cannot resolve it or {}", program_files.display()));
        };
        if !file.starts_with(&dir) {
            return Some(format!(
                "it is not installed under {}",
                program_files.display()
            ));
        }
        match owner_trusted(&file) {
            Ok(true) => None,
            Ok(false) => {
                Some("it is not owned by Administrators, SYSTEM or TrustedInstaller".into())
            }
            Err(e) => Some(e),
        }
    }
}

/// The helper to run: beside this executable (the desktop bundles' copy, or the package's
/// `/usr/bin`) or at [`INSTALLED_HELPER`], and only if [`untrusted_reason`] finds nothing. With
/// the `test-hooks` feature, `$CCSCOPE_SETTINGS_HELPER` names it instead, unchecked.
pub fn helper_path() -> Result<PathBuf, ElevateError> {
    if cfg!(feature = "test-hooks")
        && let Some(p) = std::env::var_os(HELPER_ENV)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    {
        return Ok(p);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(HELPER_NAME)))
        .filter(|p| p.is_file());
    let installed = Some(PathBuf::from(INSTALLED_HELPER)).filter(|p| p.is_file());
    let mut refused = None;
    for candidate in [beside, installed].into_iter().flatten() {
        match untrusted_reason(&candidate) {
            None => return Ok(candidate),
            Some(why) => {
                refused.get_or_insert(ElevateError::UntrustedHelper {
                    path: candidate,
                    why,
                });
            }
        }
    }
    Err(refused.unwrap_or(ElevateError::HelperMissing))
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
    // Launchers without a stdin get the document in a private temporary file, removed when
    // this returns; the helper refuses it unless its hash is the approved one.
    let document_file = match request {
        HelperRequest::Apply { document, .. } if uses_document_file(elevation) => {
            let mut file = tempfile::Builder::new()
                .prefix("ccscope-settings-")
                .suffix(".json")
                .tempfile()
                .map_err(ElevateError::DocumentFile)?;
            file.write_all(document)
                .and_then(|()| file.flush())
                .map_err(ElevateError::DocumentFile)?;
            Some(file.into_temp_path())
        }
        _ => None,
    };
    let spec = launch_spec(elevation, &helper, request, document_file.as_deref());
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
            expect_current: Some(ABSENT.into()),
        }
    }

    #[test]
    fn pkexec_gets_the_absolute_helper_and_the_document_on_stdin() {
        let spec = launch_spec(
            Elevation::Pkexec,
            Path::new("/usr/bin/ccscope-settings-helper"),
            &apply(),
            None,
        );
        assert_eq!(spec.program, "/usr/bin/pkexec");
        assert_eq!(spec.args[0], "/usr/bin/ccscope-settings-helper");
        assert_eq!(
            &spec.args[1..],
            [
                "apply",
                "--target",
                "managed-settings.json",
                "--sha256",
                &"ab".repeat(32),
                "--expect-current-sha256",
                "absent"
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(&b"{}\n"[..]));
        let direct = launch_spec(
            Elevation::Direct,
            Path::new("/x/helper"),
            &HelperRequest::Restore {
                backup_id: "b".into(),
            },
            None,
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
    fn osascript_quotes_the_helper_path_and_shows_the_hash_in_its_prompt() {
        let spec = launch_spec(
            Elevation::Osascript,
            Path::new("/Applications/cc scope's.app/helper"),
            &apply(),
            Some(Path::new("/tmp/ccscope-settings-x.json")),
        );
        assert_eq!(spec.program, "/usr/bin/osascript");
        let script = &spec.args[1];
        assert!(
            script.starts_with(
                "do shell script \"'/Applications/cc scope'\\\\''s.app/helper' 'apply'"
            ),
            "{script}"
        );
        assert!(
            script.contains("'--document-file' '/tmp/ccscope-settings-x.json'"),
            "{script}"
        );
        assert!(
            script.contains(&format!("with prompt \"ccscope wants to write Claude Code's managed settings (managed-settings.json), document SHA-256 {}.\"", "ab".repeat(32))),
            "{script}"
        );
        assert!(script.ends_with("\" with administrator privileges"));
        assert!(spec.stdin.is_none());
    }

    #[test]
    fn runas_passes_an_argument_array_with_every_quote_doubled() {
        let spec = launch_spec(
            Elevation::Runas,
            Path::new("C:\\Program Files\\ccscope\\it's \u{2018}q\u{2019}\u{201A}\u{201B}.exe"),
            &apply(),
            Some(Path::new("C:\\Temp\\doc.json")),
        );
        assert!(
            spec.program
                .ends_with("\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
            "{}",
            spec.program
        );
        let script = spec.args.last().unwrap();
        assert!(
            script.contains(
                "-FilePath 'C:\\Program Files\\ccscope\\it''s \u{2018}\u{2018}q\u{2019}\u{2019}\u{201A}\u{201A}\u{201B}\u{201B}.exe'"
            ),
            "{script}"
        );
        assert!(
            script.contains("-ArgumentList @('apply','--target','managed-settings.json'"),
            "{script}"
        );
        assert!(
            script.contains("'--document-file','C:\\Temp\\doc.json'"),
            "{script}"
        );
        assert!(script.contains("-Verb RunAs"));
        // A large document never lands on the command line (32,767 characters on Windows).
        let mut big = apply();
        if let HelperRequest::Apply { document, .. } = &mut big {
            *document = vec![b' '; 1 << 20];
        }
        let spec = launch_spec(
            Elevation::Runas,
            Path::new("C:\\h.exe"),
            &big,
            Some(Path::new("C:\\d.json")),
        );
        assert!(spec.args.iter().map(String::len).sum::<usize>() < 2_000);
    }

    #[cfg(unix)]
    #[test]
    fn only_a_root_owned_helper_in_root_owned_directories_is_trusted() {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(untrusted_reason(Path::new("/usr/bin/env")), None);
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join(HELPER_NAME);
        std::fs::write(&helper, b"#!/bin/sh\n").unwrap();
        // /tmp is world-writable: a helper below it is refused whoever owns it.
        let why = untrusted_reason(&helper).expect("refused");
        assert!(
            why.contains("writable by group or others") || why.contains("not root"),
            "{why}"
        );
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(untrusted_reason(&helper).is_some());
        assert!(untrusted_reason(&dir.path().join("missing")).is_some());
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
