//! `ccscope-settings-helper`: the only program that writes Claude Code's managed settings. It
//! runs with elevated privileges (pkexec, osascript, UAC, or directly as root) and trusts
//! nothing it is given:
//!
//! * the target is a *name* (`managed-settings.json` or a drop-in name), never a path;
//! * the document's SHA-256 must equal the hash bound when the admin approved the diff;
//! * the document must be canonical, valid JSON that passes validation for managed scope;
//! * the directory must be root-owned and not group/world-writable, and neither it nor the
//!   target may be a symlink;
//! * the write is a temp file in the same directory, fsynced, renamed over the target, and the
//!   directory fsynced: a crash leaves the old file or the new one, never a mix;
//! * the previous file is kept as a backup (the last ten per target), 0600 in a 0700
//!   directory;
//! * one write at a time (an exclusive lock), and with `--expect-current-sha256` only over the
//!   file the admin's preview was made from, so a stale preview cannot undo a newer change;
//! * directories and files get their modes set explicitly (0755, 0644), whatever the umask,
//!   and a write whose file ordinary users could not read (a 0750 directory on the way) is
//!   refused: a policy Claude Code cannot read would silently not apply.
//!
//! It prints one JSON object (the [`HelperReport`]) and exits 0 (written), 1 (invalid
//! document, hash, or a file changed since the preview), 2 (usage), 3 (permission or unsafe
//! location), 4 (I/O failure).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ccscope_settings::backup::{self, KEEP_BACKUPS};
use ccscope_settings::canonical::{canonical_bytes, is_sha256_hex, sha256_hex};
use ccscope_settings::elevate::{ABSENT, HelperError, HelperReport, exit};
use ccscope_settings::paths::Layout;
use ccscope_settings::{Issue, Scope, Target, validate};

/// Largest document accepted (managed settings are a few KB).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Builds with the test hooks only: pause at a named point so tests can kill the helper
/// mid-write (or hold the lock).
const TEST_STALL_ENV: &str = "CCSCOPE_HELPER_TEST_STALL";
const TEMP_MARKER: &str = ".ccscope-tmp-";
/// The lock every write holds, in the managed directory.
const LOCK_FILE: &str = ".ccscope-lock";
/// Modes set explicitly (the umask of whoever runs the helper does not apply).
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;
const BACKUP_DIR_MODE: u32 = 0o700;
const BACKUP_FILE_MODE: u32 = 0o600;

const USAGE: &str = "usage:
  ccscope-settings-helper apply --target NAME --sha256 HEX [--expect-current-sha256 HEX|absent]
                                [--document-file FILE]
      (the document is read from stdin unless --document-file is given; either way its
       SHA-256 must be HEX)
  ccscope-settings-helper restore --backup ID
NAME is managed-settings.json or a drop-in file name such as 50-telemetry.json.";

struct Failure {
    exit: i32,
    code: &'static str,
    message: String,
    issues: Vec<Issue>,
}

impl Failure {
    fn new(exit: i32, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            code,
            message: message.into(),
            issues: Vec::new(),
        }
    }
    fn io(what: &str, path: &Path, e: std::io::Error) -> Failure {
        let exit = if e.kind() == std::io::ErrorKind::PermissionDenied {
            exit::PERMISSION
        } else {
            exit::IO
        };
        Failure::new(
            exit,
            "io_error",
            format!("cannot {what} {}: {e}", path.display()),
        )
    }
}

struct Written {
    target: Target,
    path: PathBuf,
    sha256: String,
    backup: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let action = args.first().cloned().unwrap_or_default();
    let (code, report) = match run(&args) {
        Ok(w) => (
            exit::OK,
            HelperReport {
                ok: true,
                action,
                target: Some(w.target.name()),
                path: Some(w.path.display().to_string()),
                sha256: Some(w.sha256),
                backup: w.backup,
                error: None,
                issues: Vec::new(),
            },
        ),
        Err(f) => (
            f.exit,
            HelperReport {
                ok: false,
                action,
                target: None,
                path: None,
                sha256: None,
                backup: None,
                error: Some(HelperError {
                    code: f.code.to_owned(),
                    message: f.message,
                }),
                issues: f.issues,
            },
        ),
    };
    let text = serde_json::to_string(&report).unwrap_or_else(|_| "{\"ok\":false}".into());
    println!("{text}");
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn flag<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, Failure> {
    let mut found = None;
    let mut i = 1;
    while i < args.len() {
        if args[i] == name {
            let value = args.get(i + 1).ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "usage",
                    format!("{name} needs a value\n{USAGE}"),
                )
            })?;
            if found.is_some() {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    format!("{name} given twice"),
                ));
            }
            found = Some(value.as_str());
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(found)
}

fn check_flags(args: &[String], allowed: &[&str]) -> Result<(), Failure> {
    let mut i = 1;
    while i < args.len() {
        if !allowed.contains(&args[i].as_str()) {
            return Err(Failure::new(
                exit::USAGE,
                "usage",
                format!("unexpected argument {:?}\n{USAGE}", args[i]),
            ));
        }
        i += 2;
    }
    Ok(())
}

fn run(args: &[String]) -> Result<Written, Failure> {
    // A test asked for a scratch root that this build cannot honour: refuse rather than write
    // the machine's real managed settings in its place.
    if !ccscope_settings::paths::TEST_HOOKS
        && std::env::var_os(ccscope_settings::paths::TEST_ROOT_ENV).is_some_and(|v| !v.is_empty())
    {
        return Err(Failure::new(
            exit::USAGE,
            "test_root_unsupported",
            format!(
                "{} is set, but this helper is built without test hooks: nothing was done (unset it)",
                ccscope_settings::paths::TEST_ROOT_ENV
            ),
        ));
    }
    match args.first().map(String::as_str) {
        Some("apply") => {
            check_flags(
                args,
                &[
                    "--target",
                    "--sha256",
                    "--expect-current-sha256",
                    "--document-file",
                ],
            )?;
            let target = flag(args, "--target")?.ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "usage",
                    format!("--target is required\n{USAGE}"),
                )
            })?;
            let target = Target::parse(target)
                .map_err(|e| Failure::new(exit::USAGE, "bad_target", e.to_string()))?;
            let sha = flag(args, "--sha256")?.ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "usage",
                    format!("--sha256 is required\n{USAGE}"),
                )
            })?;
            if !is_sha256_hex(sha) {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    "--sha256 takes 64 lower-case hex digits",
                ));
            }
            let expect_current = flag(args, "--expect-current-sha256")?;
            if let Some(current) = expect_current
                && current != ABSENT
                && !is_sha256_hex(current)
            {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    "--expect-current-sha256 takes 64 lower-case hex digits or \"absent\"",
                ));
            }
            require_root()?;
            let document = match flag(args, "--document-file")? {
                // Written by the unprivileged caller: only its bytes count, and they must hash
                // to the approved value.
                Some(file) => read_document_file(Path::new(file))?,
                None => read_limited(std::io::stdin(), "stdin")?,
            };
            if document.len() > MAX_DOCUMENT_BYTES {
                return Err(Failure::new(
                    exit::INVALID,
                    "too_large",
                    format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
                ));
            }
            let actual = sha256_hex(&document);
            if actual != sha {
                return Err(Failure::new(
                    exit::INVALID,
                    "hash_mismatch",
                    format!(
                        "the document's SHA-256 is {actual}, not the approved {sha}: it changed after approval, nothing was written"
                    ),
                ));
            }
            check_document(&document, true)?;
            write_target(&Layout::system(), &target, &document, expect_current)
        }
        Some("restore") => {
            check_flags(args, &["--backup"])?;
            let id = flag(args, "--backup")?.ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "usage",
                    format!("--backup is required\n{USAGE}"),
                )
            })?;
            let (target, _) = backup::parse_backup_id(id).ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    "bad_backup_id",
                    format!("{id:?} is not a backup id"),
                )
            })?;
            require_root()?;
            let layout = Layout::system();
            let path = layout.backup_dir().join(id);
            let meta =
                fs::symlink_metadata(&path).map_err(|e| Failure::io("read backup", &path, e))?;
            if !meta.is_file() {
                return Err(Failure::new(
                    exit::PERMISSION,
                    "unsafe_backup",
                    format!("{} is not a regular file", path.display()),
                ));
            }
            let bytes = fs::read(&path).map_err(|e| Failure::io("read backup", &path, e))?;
            check_document(&bytes, false)?;
            write_target(&layout, &target, &bytes, None)
        }
        Some("--help" | "-h" | "help") => Err(Failure::new(exit::USAGE, "usage", USAGE)),
        _ => Err(Failure::new(exit::USAGE, "usage", USAGE)),
    }
}

/// The document handed over in a file (by launchers without a stdin): a regular file only, so
/// a device or a pipe cannot make the helper block or read without end.
fn read_document_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let meta = fs::metadata(path).map_err(|e| Failure::io("read", path, e))?;
    if !meta.is_file() {
        return Err(Failure::new(
            exit::USAGE,
            "usage",
            format!("--document-file {} is not a regular file", path.display()),
        ));
    }
    let file = File::open(path).map_err(|e| Failure::io("read", path, e))?;
    read_limited(file, &path.display().to_string())
}

fn read_limited(from: impl Read, what: &str) -> Result<Vec<u8>, Failure> {
    let mut document = Vec::new();
    from.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut document)
        .map_err(|e| {
            Failure::new(
                exit::IO,
                "io_error",
                format!("cannot read the document from {what}: {e}"),
            )
        })?;
    Ok(document)
}

/// The document must be JSON, valid for managed scope, and (for new documents) canonical.
fn check_document(bytes: &[u8], must_be_canonical: bool) -> Result<(), Failure> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Failure::new(exit::INVALID, "not_utf8", "the document is not UTF-8"))?;
    let doc = validate::parse(text)
        .map_err(|e| Failure::new(exit::INVALID, "not_json", e.to_string()))?;
    if must_be_canonical && canonical_bytes(&doc) != bytes {
        return Err(Failure::new(
            exit::INVALID,
            "not_canonical",
            "the document is not in canonical form (sorted keys, 2-space indent, trailing newline)",
        ));
    }
    let report = validate::validate(&doc, Scope::Managed);
    if !report.is_valid() {
        let mut f = Failure::new(
            exit::INVALID,
            "invalid_settings",
            format!(
                "{} error(s); the first: {} {}",
                report.errors.len(),
                report.errors[0].pointer,
                report.errors[0].message
            ),
        );
        f.issues = report.errors;
        return Err(f);
    }
    Ok(())
}

#[cfg(unix)]
fn require_root() -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure::new(
            exit::PERMISSION,
            "not_root",
            "the settings helper must run as root (through pkexec or sudo)",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn require_root() -> Result<(), Failure> {
    Ok(())
}

fn stall(point: &str) {
    if ccscope_settings::paths::TEST_HOOKS
        && std::env::var(TEST_STALL_ENV).is_ok_and(|v| v == point)
    {
        eprintln!("stalled at {point}");
        let _ = std::io::stderr().flush();
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
}

/// Checks that `dir` is a real directory only root can write; creates it with `mode` (set
/// explicitly, whatever the umask) when missing and its parent passes the same check.
fn ensure_safe_dir(dir: &Path, mode: u32) -> Result<(), Failure> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => check_dir_meta(dir, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().ok_or_else(|| {
                Failure::new(
                    exit::PERMISSION,
                    "unsafe_directory",
                    format!("{} has no parent", dir.display()),
                )
            })?;
            ensure_safe_dir(parent, DIR_MODE)?;
            create_dir(dir, mode)?;
            let meta = fs::symlink_metadata(dir).map_err(|e| Failure::io("inspect", dir, e))?;
            check_dir_meta(dir, &meta)
        }
        Err(e) => Err(Failure::io("inspect", dir, e)),
    }
}

#[cfg(unix)]
fn create_dir(dir: &Path, mode: u32) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir(dir).map_err(|e| Failure::io("create", dir, e))?;
    // mkdir applies the umask; the mode is set again so that it does not.
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .map_err(|e| Failure::io("set the mode of", dir, e))
}

#[cfg(not(unix))]
fn create_dir(dir: &Path, _mode: u32) -> Result<(), Failure> {
    fs::create_dir(dir).map_err(|e| Failure::io("create", dir, e))
}

/// Refuses to report success for a file ordinary users cannot read: every directory on its
/// path must let others through (o+x) and the file must be readable by others (o+r), or
/// every user's Claude Code silently ignores the policy.
#[cfg(unix)]
fn check_readable_by_all(path: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |what: &Path, mode: u32, need: &str| {
        Err(Failure::new(
            exit::PERMISSION,
            "unreadable_by_users",
            format!(
                "{} has mode {:04o}: ordinary users cannot {need} it, so Claude Code would ignore this policy for them. Run `chmod o+{} {}` (a root umask such as 027 or 077 makes directories like this)",
                what.display(),
                mode & 0o7777,
                if need == "read" { "r" } else { "x" },
                what.display()
            ),
        ))
    };
    let meta = fs::metadata(path).map_err(|e| Failure::io("inspect", path, e))?;
    if meta.permissions().mode() & 0o004 == 0 {
        return unreadable(path, meta.permissions().mode(), "read");
    }
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        let mode = fs::metadata(dir)
            .map_err(|e| Failure::io("inspect", dir, e))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return unreadable(dir, mode, "enter");
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_readable_by_all(_path: &Path) -> Result<(), Failure> {
    Ok(())
}

/// The directory of `path` must let others through before anything is written there.
#[cfg(unix)]
fn check_traversable(dir: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    for d in dir.ancestors().filter(|d| !d.as_os_str().is_empty()) {
        let mode = fs::metadata(d)
            .map_err(|e| Failure::io("inspect", d, e))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(Failure::new(
                exit::PERMISSION,
                "unreadable_by_users",
                format!(
                    "{} has mode {:04o}: ordinary users cannot enter it, so Claude Code would ignore a policy written there. Run `chmod o+x {}` first; nothing was written",
                    d.display(),
                    mode & 0o7777,
                    d.display()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_traversable(_dir: &Path) -> Result<(), Failure> {
    Ok(())
}

/// Holds the managed directory's write lock until dropped (one helper writes at a time).
fn lock(dir: &Path) -> Result<File, Failure> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options
        .open(&path)
        .map_err(|e| Failure::io("open the lock", &path, e))?;
    file.lock().map_err(|e| Failure::io("lock", &path, e))?;
    stall("locked");
    Ok(file)
}

#[cfg(unix)]
fn check_dir_meta(dir: &Path, meta: &fs::Metadata) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |why: String| {
        Err(Failure::new(
            exit::PERMISSION,
            "unsafe_directory",
            format!("refusing to write in {}: {why}", dir.display()),
        ))
    };
    if meta.file_type().is_symlink() {
        return unsafe_dir("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return unsafe_dir("it is not a directory".into());
    }
    if meta.uid() != 0 {
        return unsafe_dir(format!("it is owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return unsafe_dir(format!(
            "it is writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir_meta(dir: &Path, meta: &fs::Metadata) -> Result<(), Failure> {
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(Failure::new(
            exit::PERMISSION,
            "unsafe_directory",
            format!(
                "refusing to write in {}: not a plain directory",
                dir.display()
            ),
        ));
    }
    Ok(())
}

fn fsync_dir(dir: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Failure::io("sync", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates a new file for writing that cannot follow a symlink planted at its name.
fn create_exclusive(path: &Path) -> Result<File, Failure> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
        .open(path)
        .map_err(|e| Failure::io("create", path, e))
}

/// Makes `file` root-owned with `mode` before it is renamed into place.
fn seal(file: &File, path: &Path, mode: u32) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::fchown(file, Some(0), Some(0))
            .map_err(|e| Failure::io("chown", path, e))?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Failure::io("chmod", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (file, path, mode);
    Ok(())
}

fn temp_path(dir: &Path, file_name: &str) -> PathBuf {
    dir.join(format!(".{file_name}{TEMP_MARKER}{}", std::process::id()))
}

/// Removes temp files that killed runs left behind.
fn remove_stale_temps(dir: &Path, file_name: &str) {
    let prefix = format!(".{file_name}{TEMP_MARKER}");
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a synced temp file in the same directory.
fn replace_file(dir: &Path, file_name: &str, bytes: &[u8], is_target: bool) -> Result<(), Failure> {
    let path = dir.join(file_name);
    let temp = temp_path(dir, file_name);
    let mut file = create_exclusive(&temp)?;
    let result = (|| {
        let half = bytes.len() / 2;
        file.write_all(&bytes[..half])
            .map_err(|e| Failure::io("write", &temp, e))?;
        file.sync_data()
            .map_err(|e| Failure::io("sync", &temp, e))?;
        if is_target {
            stall("mid-write");
        }
        file.write_all(&bytes[half..])
            .map_err(|e| Failure::io("write", &temp, e))?;
        seal(
            &file,
            &temp,
            if is_target {
                FILE_MODE
            } else {
                BACKUP_FILE_MODE
            },
        )?;
        file.sync_all().map_err(|e| Failure::io("sync", &temp, e))?;
        if is_target {
            stall("before-rename");
        }
        fs::rename(&temp, &path).map_err(|e| Failure::io("replace", &path, e))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_target(
    layout: &Layout,
    target: &Target,
    bytes: &[u8],
    expect_current: Option<&str>,
) -> Result<Written, Failure> {
    ensure_safe_dir(&layout.managed_dir, DIR_MODE)?;
    let _lock = lock(&layout.managed_dir)?;
    let dir = target.dir(layout);
    ensure_safe_dir(&dir, DIR_MODE)?;
    check_traversable(&dir)?;
    let path = target.path(layout);
    let existing = match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Failure::new(
                exit::PERMISSION,
                "symlink_target",
                format!(
                    "refusing to replace {}: it is a symbolic link",
                    path.display()
                ),
            ));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Failure::new(
                exit::PERMISSION,
                "unsafe_target",
                format!(
                    "refusing to replace {}: it is not a regular file",
                    path.display()
                ),
            ));
        }
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Failure::io("inspect", &path, e)),
    };
    if let Some(expected) = expect_current {
        let current = if existing {
            sha256_hex(&read_no_follow(&path)?)
        } else {
            ABSENT.to_owned()
        };
        if current != expected {
            return Err(Failure::new(
                exit::INVALID,
                "changed_since_preview",
                format!(
                    "{} changed since the preview was made (its SHA-256 is now {current}, the preview saw {expected}): nothing was written; preview again",
                    path.display()
                ),
            ));
        }
    }
    remove_stale_temps(&dir, target.file_name());
    let backup = if existing {
        Some(take_backup(layout, target, &path)?)
    } else {
        None
    };
    replace_file(&dir, target.file_name(), bytes, true)?;
    check_readable_by_all(&path)?;
    Ok(Written {
        target: target.clone(),
        path,
        sha256: sha256_hex(bytes),
        backup,
    })
}

/// Reads a file without following a symlink planted at its name.
fn read_no_follow(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut current = Vec::new();
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
        .open(path)
        .and_then(|mut f| f.read_to_end(&mut current))
        .map_err(|e| Failure::io("read", path, e))?;
    Ok(current)
}

/// Backups may hold secrets (headers, helper commands): the directory is root's alone (0700),
/// also when an older version created it 0755.
fn restrict_backup_dir(dir: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(BACKUP_DIR_MODE))
            .map_err(|e| Failure::io("set the mode of", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Copies the current file into the backup directory and keeps the newest [`KEEP_BACKUPS`].
fn take_backup(layout: &Layout, target: &Target, path: &Path) -> Result<String, Failure> {
    let backup_dir = layout.backup_dir();
    ensure_safe_dir(&backup_dir, BACKUP_DIR_MODE)?;
    restrict_backup_dir(&backup_dir)?;
    let current = read_no_follow(path)?;
    let mut now = chrono::Utc::now();
    let mut id = backup::backup_id(target, now);
    while backup_dir.join(&id).exists() {
        now += chrono::Duration::nanoseconds(1);
        id = backup::backup_id(target, now);
    }
    replace_file(&backup_dir, &id, &current, false)?;
    for old in backup::list_backups(layout, Some(target))
        .into_iter()
        .skip(KEEP_BACKUPS)
    {
        let _ = fs::remove_file(backup_dir.join(&old.id));
    }
    Ok(id)
}
