#![cfg(unix)]
//! The helper run as root against a scratch root (a debug-build-only override): atomic writes
//! that survive a kill, refusals of unsafe targets and changed documents, backup rotation.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ccscope_settings::canonical::{canonical_bytes, sha256_hex};
use ccscope_settings::paths::TEST_ROOT_ENV;
use serde_json::{Value, json};

const HELPER: &str = env!("CARGO_BIN_EXE_ccscope-settings-helper");

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Root { dir }
    }
    fn managed_dir(&self) -> PathBuf {
        self.dir.path().join("etc/claude-code")
    }
    fn managed_file(&self) -> PathBuf {
        self.managed_dir().join("managed-settings.json")
    }
    fn command(&self) -> Command {
        let mut c = Command::new(HELPER);
        c.env(TEST_ROOT_ENV, self.dir.path());
        c
    }
    fn apply(&self, target: &str, doc: &Value) -> (i32, Value) {
        let bytes = canonical_bytes(doc);
        self.apply_bytes(target, &bytes, &sha256_hex(&bytes))
    }
    fn apply_bytes(&self, target: &str, bytes: &[u8], sha: &str) -> (i32, Value) {
        let mut child = self
            .command()
            .args(["apply", "--target", target, "--sha256", sha])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        parse(child.wait_with_output().unwrap())
    }
    fn run(&self, args: &[&str]) -> (i32, Value) {
        parse(
            self.command()
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    }
}

fn parse(out: Output) -> (i32, Value) {
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), report)
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        assert!(
            is_root(),
            "the helper tests run as root (CI does); run them with sudo"
        );
    };
}

#[test]
fn apply_writes_the_exact_bytes_root_owned_0644() {
    require_root!();
    let root = Root::new();
    let doc = json!({"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com"}, "myUnknownKey": [1, 2]});
    let (code, report) = root.apply("managed-settings.json", &doc);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["backup"], Value::Null);
    let written = fs::read(root.managed_file()).unwrap();
    assert_eq!(written, canonical_bytes(&doc));
    assert_eq!(report["sha256"], sha256_hex(&written));
    let meta = fs::metadata(root.managed_file()).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o644, 0, 0)
    );
    assert_eq!(
        fs::metadata(root.managed_dir()).unwrap().mode() & 0o7777,
        0o755
    );
    // Drop-ins go to managed-settings.d.
    let (code, report) = root.apply(
        "50-telemetry.json",
        &json!({"env": {"OTEL_LOG_USER_PROMPTS": "0"}}),
    );
    assert_eq!(code, 0, "{report}");
    assert!(
        root.managed_dir()
            .join("managed-settings.d/50-telemetry.json")
            .is_file()
    );
    assert_eq!(report["target"], "managed-settings.d/50-telemetry.json");
}

#[test]
fn a_changed_invalid_or_non_canonical_document_is_refused_and_nothing_changes() {
    require_root!();
    let root = Root::new();
    root.apply("managed", &json!({"model": "original"}));
    let before = fs::read(root.managed_file()).unwrap();

    let approved = canonical_bytes(&json!({"model": "approved"}));
    let tampered = canonical_bytes(&json!({"model": "tampered"}));
    let (code, report) = root.apply_bytes("managed", &tampered, &sha256_hex(&approved));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("hash_mismatch")),
        "{report}"
    );

    let (code, report) = root.apply(
        "managed",
        &json!({"cleanupPeriodDays": "ten", "env": {"OTEL_RESOURCE_ATTRIBUTES": "team=a b"}}),
    );
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("invalid_settings")),
        "{report}"
    );
    let pointers: Vec<&str> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/cleanupPeriodDays")
            && pointers.contains(&"/env/OTEL_RESOURCE_ATTRIBUTES"),
        "{pointers:?}"
    );

    let loose = b"{\"model\":\"x\"}";
    let (code, report) = root.apply_bytes("managed", loose, &sha256_hex(loose));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("not_canonical")),
        "{report}"
    );

    let garbage = b"{\"model\": ";
    let (code, report) = root.apply_bytes("managed", garbage, &sha256_hex(garbage));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("not_json")),
        "{report}"
    );

    assert_eq!(fs::read(root.managed_file()).unwrap(), before);
}

#[test]
fn targets_are_names_never_paths() {
    let root = Root::new();
    for target in [
        "/etc/passwd",
        "../../etc/shadow.json",
        "managed-settings.d/../x.json",
        "x",
    ] {
        let (code, report) = root.run(&["apply", "--target", target, "--sha256", &"0".repeat(64)]);
        assert_eq!(
            (code, report["error"]["code"].as_str()),
            (2, Some("bad_target")),
            "{target}: {report}"
        );
    }
    let (code, _) = root.run(&["apply", "--target", "managed", "--sha256", "not-hex"]);
    assert_eq!(code, 2);
    let (code, _) = root.run(&[
        "apply",
        "--target",
        "managed",
        "--sha256",
        &"0".repeat(64),
        "--path",
        "/tmp/x",
    ]);
    assert_eq!(code, 2);
    let (code, _) = root.run(&["write-anything"]);
    assert_eq!(code, 2);
    let (code, report) = root.run(&["restore", "--backup", "../../etc/passwd"]);
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (2, Some("bad_backup_id"))
    );
}

#[test]
fn symlinks_and_unsafe_directories_are_refused() {
    require_root!();
    let root = Root::new();
    fs::create_dir_all(root.managed_dir()).unwrap();
    let elsewhere = root.dir.path().join("elsewhere.json");
    fs::write(&elsewhere, "{}\n").unwrap();
    symlink(&elsewhere, root.managed_file()).unwrap();
    let (code, report) = root.apply("managed", &json!({"model": "x"}));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (3, Some("symlink_target")),
        "{report}"
    );
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "{}\n");
    fs::remove_file(root.managed_file()).unwrap();

    // The drop-in directory as a symlink to somewhere else.
    let other = root.dir.path().join("other");
    fs::create_dir(&other).unwrap();
    symlink(&other, root.managed_dir().join("managed-settings.d")).unwrap();
    let (code, report) = root.apply("10-x.json", &json!({"model": "x"}));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (3, Some("unsafe_directory")),
        "{report}"
    );
    assert!(fs::read_dir(&other).unwrap().next().is_none());

    // A group- or world-writable managed directory.
    fs::set_permissions(root.managed_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    let (code, report) = root.apply("managed", &json!({"model": "x"}));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (3, Some("unsafe_directory")),
        "{report}"
    );
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("writable by group or others")
    );
    // Owned by someone else.
    fs::set_permissions(root.managed_dir(), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(root.managed_dir(), Some(65534), None).unwrap();
    let (code, report) = root.apply("managed", &json!({"model": "x"}));
    assert_eq!(code, 3, "{report}");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not root")
    );
    assert!(!root.managed_file().exists());
}

#[test]
fn not_root_is_a_permission_error() {
    require_root!();
    let root = Root::new();
    let bytes = canonical_bytes(&json!({}));
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            HELPER,
            "apply",
            "--target",
            "managed",
            "--sha256",
            &sha256_hex(&bytes),
        ])
        .env(TEST_ROOT_ENV, root.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, report) = parse(out);
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (3, Some("not_root")),
        "{report}"
    );
}

#[test]
fn backups_keep_the_last_ten_and_restore_puts_one_back() {
    require_root!();
    let root = Root::new();
    let mut backups = Vec::new();
    for i in 0..13 {
        let (code, report) = root.apply("managed", &json!({"cleanupPeriodDays": i + 1}));
        assert_eq!(code, 0, "{report}");
        if let Some(id) = report["backup"].as_str() {
            backups.push(id.to_owned());
        }
    }
    assert_eq!(backups.len(), 12);
    let dir = root.managed_dir().join(".ccscope-backups");
    let mut kept: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, backups[2..].to_vec(), "the newest ten are kept");
    // The backup taken before the 13th write holds the 12th document.
    let last = backups.last().unwrap();
    assert_eq!(
        fs::read(dir.join(last)).unwrap(),
        canonical_bytes(&json!({"cleanupPeriodDays": 12}))
    );
    let oldest_kept = &backups[2];
    let (code, report) = root.run(&["restore", "--backup", oldest_kept]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        fs::read(root.managed_file()).unwrap(),
        canonical_bytes(&json!({"cleanupPeriodDays": 3}))
    );
    assert!(
        report["backup"].as_str().is_some(),
        "restoring backs up the current file too"
    );
    let (code, report) = root.run(&[
        "restore",
        "--backup",
        "managed-settings.json.20000101T000000000000000Z",
    ]);
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (4, Some("io_error")),
        "{report}"
    );
}

/// Starts an apply of `doc` that stalls at `point` and returns it once it says so.
fn stalled_apply(root: &Root, point: &str, doc: &Value) -> std::process::Child {
    let bytes = canonical_bytes(doc);
    let mut child = root
        .command()
        .env("CCSCOPE_HELPER_TEST_STALL", point)
        .args([
            "apply",
            "--target",
            "managed",
            "--sha256",
            &sha256_hex(&bytes),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), format!("stalled at {point}"));
    child
}

/// Starts an apply that stalls at `point`, kills it with SIGKILL there, and returns the file.
fn kill_at(root: &Root, point: &str, doc: &Value) -> Vec<u8> {
    let mut child = stalled_apply(root, point, doc);
    child.kill().unwrap();
    child.wait().unwrap();
    fs::read(root.managed_file()).unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".ccscope-tmp-"))
        .collect()
}

#[test]
fn a_kill_mid_write_leaves_the_old_file_whole() {
    require_root!();
    let root = Root::new();
    let old = json!({"model": "old", "companyAnnouncements": ["x".repeat(4000)]});
    root.apply("managed", &old);
    let new = json!({"model": "new", "companyAnnouncements": ["y".repeat(4000)]});
    for point in ["mid-write", "before-rename"] {
        let on_disk = kill_at(&root, point, &new);
        assert_eq!(
            on_disk,
            canonical_bytes(&old),
            "killed at {point}: the old file must be intact"
        );
        assert_eq!(
            temp_files(&root.managed_dir()).len(),
            1,
            "the partial temp file is left beside it"
        );
    }
    // The next run cleans up and writes the whole new file.
    let (code, report) = root.apply("managed", &new);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        fs::read(root.managed_file()).unwrap(),
        canonical_bytes(&new)
    );
    assert!(temp_files(&root.managed_dir()).is_empty());
}

/// Runs `apply` with extra arguments and the document on stdin.
fn apply_with(
    root: &Root,
    umask: Option<libc::mode_t>,
    doc: &Value,
    extra: &[&str],
) -> (i32, Value) {
    let bytes = canonical_bytes(doc);
    let sha = sha256_hex(&bytes);
    let mut command = root.command();
    command
        .args(["apply", "--target", "managed", "--sha256", &sha])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(mask) = umask {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask is async-signal-safe and has no preconditions.
        unsafe {
            command.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().unwrap();
    // A helper that refuses before reading all of the document closes its stdin: what it
    // printed and its exit code are the answer, not the pipe.
    match child.stdin.take().unwrap().write_all(&bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    parse(child.wait_with_output().unwrap())
}

#[test]
fn a_strict_umask_still_gives_files_every_user_can_read() {
    require_root!();
    let root = Root::new();
    for mask in [0o027, 0o077] {
        let _ = fs::remove_dir_all(root.dir.path().join("etc"));
        let (code, report) = apply_with(&root, Some(mask), &json!({"model": "m"}), &[]);
        assert_eq!(code, 0, "umask {mask:o}: {report}");
        for dir in [root.dir.path().join("etc"), root.managed_dir()] {
            assert_eq!(
                fs::metadata(&dir).unwrap().mode() & 0o7777,
                0o755,
                "umask {mask:o}: {}",
                dir.display()
            );
        }
        assert_eq!(
            fs::metadata(root.managed_file()).unwrap().mode() & 0o7777,
            0o644
        );
        // A second write takes a backup: root's alone.
        let (code, report) = apply_with(&root, Some(mask), &json!({"model": "n"}), &[]);
        assert_eq!(code, 0, "{report}");
        let backups = root.managed_dir().join(".ccscope-backups");
        assert_eq!(fs::metadata(&backups).unwrap().mode() & 0o7777, 0o700);
        let id = report["backup"].as_str().unwrap();
        assert_eq!(
            fs::metadata(backups.join(id)).unwrap().mode() & 0o7777,
            0o600
        );
    }
}

#[test]
fn a_directory_users_cannot_enter_is_refused_and_nothing_is_written() {
    require_root!();
    let root = Root::new();
    root.apply("managed", &json!({"model": "old"}));
    fs::set_permissions(root.managed_dir(), fs::Permissions::from_mode(0o750)).unwrap();
    let (code, report) = root.apply("managed", &json!({"model": "new"}));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (3, Some("unreadable_by_users")),
        "{report}"
    );
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("0750") && message.contains("chmod o+x"),
        "{message}"
    );
    assert_eq!(
        fs::read(root.managed_file()).unwrap(),
        canonical_bytes(&json!({"model": "old"}))
    );
}

#[test]
fn a_stale_preview_cannot_overwrite_a_newer_file() {
    require_root!();
    let root = Root::new();
    // A new file: `absent` holds only while there is none.
    let (code, report) = apply_with(
        &root,
        None,
        &json!({"model": "first"}),
        &["--expect-current-sha256", "absent"],
    );
    assert_eq!(code, 0, "{report}");
    let first = fs::read(root.managed_file()).unwrap();
    let (code, report) = apply_with(
        &root,
        None,
        &json!({"model": "again"}),
        &["--expect-current-sha256", "absent"],
    );
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("changed_since_preview")),
        "{report}"
    );
    // Someone else writes; the admin's preview of `first` is now stale.
    root.apply("managed", &json!({"model": "newer"}));
    let (code, report) = apply_with(
        &root,
        None,
        &json!({"model": "stale"}),
        &["--expect-current-sha256", &sha256_hex(&first)],
    );
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("changed_since_preview")),
        "{report}"
    );
    assert_eq!(
        fs::read(root.managed_file()).unwrap(),
        canonical_bytes(&json!({"model": "newer"}))
    );
    let current = sha256_hex(&fs::read(root.managed_file()).unwrap());
    let (code, report) = apply_with(
        &root,
        None,
        &json!({"model": "fresh"}),
        &["--expect-current-sha256", &current],
    );
    assert_eq!(code, 0, "{report}");
    let (code, _) = apply_with(
        &root,
        None,
        &json!({"model": "x"}),
        &["--expect-current-sha256", "not-a-hash"],
    );
    assert_eq!(code, 2);
}

#[test]
fn two_applies_at_once_take_turns() {
    require_root!();
    let root = Root::new();
    root.apply("managed", &json!({"model": "start"}));
    let mut first = stalled_apply(&root, "locked", &json!({"model": "first"}));
    // The second waits for the lock instead of writing beside the first.
    let second_bytes = canonical_bytes(&json!({"model": "second"}));
    let mut second = root
        .command()
        .args([
            "apply",
            "--target",
            "managed",
            "--sha256",
            &sha256_hex(&second_bytes),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    second
        .stdin
        .take()
        .unwrap()
        .write_all(&second_bytes)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second apply waits while the first holds the lock"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let (code, report) = parse(second.wait_with_output().unwrap());
    assert_eq!(code, 0, "{report}");
    assert_eq!(fs::read(root.managed_file()).unwrap(), second_bytes);
}

#[test]
fn the_document_may_come_in_a_file_and_must_still_match_the_hash() {
    require_root!();
    let root = Root::new();
    let bytes = canonical_bytes(&json!({"model": "from-file"}));
    let file = root.dir.path().join("doc.json");
    fs::write(&file, &bytes).unwrap();
    let run = |sha: &str| {
        root.run(&[
            "apply",
            "--target",
            "managed",
            "--sha256",
            sha,
            "--document-file",
            file.to_str().unwrap(),
        ])
    };
    let (code, report) = run(&sha256_hex(&canonical_bytes(&json!({"model": "other"}))));
    assert_eq!(
        (code, report["error"]["code"].as_str()),
        (1, Some("hash_mismatch")),
        "{report}"
    );
    let (code, report) = run(&sha256_hex(&bytes));
    assert_eq!(code, 0, "{report}");
    assert_eq!(fs::read(root.managed_file()).unwrap(), bytes);
    // Not a device or a directory.
    for path in ["/dev/zero", "/etc"] {
        let (code, report) = root.run(&[
            "apply",
            "--target",
            "managed",
            "--sha256",
            &sha256_hex(&bytes),
            "--document-file",
            path,
        ]);
        assert_eq!(code, 2, "{path}: {report}");
        assert!(
            report["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a regular file")
        );
    }
}

#[test]
fn a_drop_in_named_like_the_main_file_keeps_its_own_backups() {
    require_root!();
    let root = Root::new();
    root.apply("managed", &json!({"model": "main-1"}));
    root.apply("managed", &json!({"model": "main-2"}));
    let twin = "managed-settings.d/managed-settings.json";
    root.apply(twin, &json!({"model": "twin-1"}));
    let (code, report) = root.apply(twin, &json!({"model": "twin-2"}));
    assert_eq!(code, 0, "{report}");
    let twin_backup = report["backup"].as_str().unwrap().to_owned();
    assert!(
        twin_backup.starts_with("managed-settings.d@"),
        "{twin_backup}"
    );
    // Restoring the twin's backup restores the drop-in, never the main file.
    let (code, report) = root.run(&["restore", "--backup", &twin_backup]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["target"], twin);
    assert_eq!(
        fs::read(root.managed_file()).unwrap(),
        canonical_bytes(&json!({"model": "main-2"}))
    );
    assert_eq!(
        fs::read(root.managed_dir().join(twin)).unwrap(),
        canonical_bytes(&json!({"model": "twin-1"}))
    );
}
