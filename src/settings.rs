//! `ccscope settings`: Claude Code's managed settings for scripts and MDM — show the effective
//! settings and their sources, validate and diff a file, apply it through the privileged helper,
//! list and restore backups. Exit codes: 0 ok, 1 invalid, 2 usage, 3 permission.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ccscope_settings::backup::{list_backups, parse_backup_id};
use ccscope_settings::elevate::{self, HelperOutcome, HelperRequest};
use ccscope_settings::paths::{self, Layout};
use ccscope_settings::sources::Sources;
use ccscope_settings::{Issue, Report, Scope, Target, parse_bytes, preview, validate};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::output::table;

/// Exit codes of `ccscope settings`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const INVALID: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const PERMISSION: u8 = 3;
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 ok, 1 invalid settings, 2 usage error, 3 permission denied, cancelled or refused."
)]
pub struct SettingsArgs {
    #[command(subcommand)]
    command: SettingsCommand,
}

impl SettingsArgs {
    /// Whether this command runs the settings helper (and writes the document to its stdin,
    /// which may close early).
    pub fn runs_helper(&self) -> bool {
        matches!(
            self.command,
            SettingsCommand::Apply { .. } | SettingsCommand::Restore { .. }
        )
    }
}

#[derive(Subcommand, Debug)]
enum SettingsCommand {
    /// Every settings source Claude Code reads here, and each setting's effective value and source.
    Show {
        /// Include this project's .claude/settings.json and settings.local.json [default: the current directory when it has .claude/]
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Validate a settings file (`-` for stdin): errors and warnings with JSON pointers.
    Validate {
        file: PathBuf,
        /// The level the file is meant for (some keys only count in some levels).
        #[arg(long, value_enum, default_value = "managed")]
        scope: ScopeArg,
        #[arg(long)]
        json: bool,
    },
    /// Show the exact change applying FILE would make to the managed file or a drop-in.
    Diff {
        file: PathBuf,
        /// managed-settings.json, or a drop-in name such as 50-telemetry.json
        #[arg(long, value_name = "NAME", default_value = "managed-settings.json")]
        target: String,
    },
    /// Validate FILE and write it through the settings helper (with the OS's elevation prompt).
    Apply {
        file: PathBuf,
        /// managed-settings.json, or a drop-in name such as 50-telemetry.json
        #[arg(long, value_name = "NAME", default_value = "managed-settings.json")]
        target: String,
        /// Write only if the target still has this SHA-256 (as `settings diff` printed it, or
        /// `absent` for a new file): a file changed since you reviewed the diff is left alone
        /// [default: the file as this command reads it]
        #[arg(long, value_name = "HEX")]
        expect_current_sha256: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write POLICY (a managed-settings document, `-` for stdin) as the file a fleet tool
    /// deploys: a macOS configuration profile, a Windows registry file, an Intune platform
    /// script, or a managed-settings.d drop-in. Validated first, like Apply; refused (exit 1)
    /// when invalid.
    Export {
        policy: PathBuf,
        #[arg(long, value_enum)]
        format: ExportFormatArg,
        /// Write to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The profile's PayloadOrganization (mobileconfig)
        #[arg(long, value_name = "NAME", default_value = "ccscope")]
        organization: String,
        /// The profile's PayloadIdentifier (mobileconfig)
        #[arg(
            long,
            value_name = "ID",
            default_value = "com.anthropic.claudecode.profile"
        )]
        identifier: String,
    },
    /// List the backups the helper kept of replaced files (newest first).
    Backups {
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Put a backup back in place (the current file is backed up first).
    Restore {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ExportFormatArg {
    /// macOS configuration profile for the com.anthropic.claudecode preference domain
    Mobileconfig,
    /// Windows registry file: HKLM\SOFTWARE\Policies\ClaudeCode value Settings
    Reg,
    /// Intune platform script writing C:\Program Files\ClaudeCode\managed-settings.json
    Ps1,
    /// A managed-settings.d/NN-name.json drop-in (or the managed file)
    Json,
}

impl From<ExportFormatArg> for ccscope_settings::mdm::Format {
    fn from(value: ExportFormatArg) -> Self {
        use ccscope_settings::mdm::Format;
        match value {
            ExportFormatArg::Mobileconfig => Format::Mobileconfig,
            ExportFormatArg::Reg => Format::Reg,
            ExportFormatArg::Ps1 => Format::Ps1,
            ExportFormatArg::Json => Format::Json,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ScopeArg {
    Managed,
    User,
    Project,
    Local,
}

impl From<ScopeArg> for Scope {
    fn from(value: ScopeArg) -> Self {
        match value {
            ScopeArg::Managed => Scope::Managed,
            ScopeArg::User => Scope::User,
            ScopeArg::Project => Scope::Project,
            ScopeArg::Local => Scope::Local,
        }
    }
}

struct Usage(String);

fn usage(message: impl Into<String>) -> Result<u8, Usage> {
    Err(Usage(message.into()))
}

pub fn run(args: SettingsArgs) -> anyhow::Result<u8> {
    let result = match args.command {
        SettingsCommand::Show { project, json } => {
            show(project, json).map_err(|e| Usage(format!("{e:#}")))
        }
        SettingsCommand::Validate { file, scope, json } => validate_file(&file, scope.into(), json),
        SettingsCommand::Diff { file, target } => diff(&file, &target),
        SettingsCommand::Apply {
            file,
            target,
            expect_current_sha256,
            json,
        } => apply(&file, &target, expect_current_sha256.as_deref(), json),
        SettingsCommand::Export {
            policy,
            format,
            output,
            organization,
            identifier,
        } => export_policy(
            &policy,
            format.into(),
            output.as_deref(),
            ccscope_settings::mdm::Profile {
                organization,
                identifier,
                ..ccscope_settings::mdm::Profile::default()
            },
        ),
        SettingsCommand::Backups { target, json } => backups(target.as_deref(), json),
        SettingsCommand::Restore { id, json } => restore(&id, json),
    };
    match result {
        Ok(code) => Ok(code),
        Err(Usage(message)) => {
            eprintln!("ccscope settings: {message}");
            Ok(exit::USAGE)
        }
    }
}

/// Reads FILE (`-`: stdin), at most one byte more than a settings document may have.
fn read_input(file: &Path) -> Result<Vec<u8>, Usage> {
    let mut bytes = Vec::new();
    let limit = ccscope_settings::MAX_DOCUMENT_BYTES as u64 + 1;
    let result = if file == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| Usage(format!("cannot read {}: {e}", file.display())))?;
    Ok(bytes)
}

/// A parsed document and the findings about its text (repeated keys).
struct Loaded {
    doc: Value,
    text_findings: Vec<Issue>,
}

/// Parses FILE; prints why and returns `Err(code)` when it is not a settings document
/// (too large, not UTF-8, a byte order mark, not JSON): exit 1, like an invalid one.
fn load(file: &Path) -> Result<Result<Loaded, u8>, Usage> {
    let bytes = read_input(file)?;
    Ok(match parse_bytes(&bytes) {
        Ok((doc, text_findings)) => Ok(Loaded { doc, text_findings }),
        Err(e) => {
            eprintln!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message);
            Err(exit::INVALID)
        }
    })
}

fn print_issue(issue: &Issue) {
    let kind = match issue.severity {
        ccscope_settings::Severity::Error => "error",
        ccscope_settings::Severity::Warning => "warning",
    };
    let at = if issue.pointer.is_empty() {
        "(document)"
    } else {
        issue.pointer.as_str()
    };
    match &issue.consequence {
        Some(c) if issue.severity == ccscope_settings::Severity::Error => {
            eprintln!("{kind} {at}: {} ({c})", issue.message)
        }
        _ => eprintln!("{kind} {at}: {}", issue.message),
    }
}

fn print_report(report: &Report) {
    for issue in report.errors.iter().chain(&report.warnings) {
        print_issue(issue);
    }
}

fn validate_file(file: &Path, scope: Scope, json: bool) -> Result<u8, Usage> {
    let loaded = match load(file)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let mut report = validate(&loaded.doc, scope);
    for finding in loaded.text_findings {
        report.push(finding);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_report(&report);
        if report.is_valid() {
            println!(
                "{}: valid ({} warning(s))",
                file.display(),
                report.warnings.len()
            );
        } else {
            println!(
                "{}: {} error(s), {} warning(s)",
                file.display(),
                report.errors.len(),
                report.warnings.len()
            );
        }
    }
    Ok(if report.is_valid() {
        exit::OK
    } else {
        exit::INVALID
    })
}

fn export_policy(
    file: &Path,
    format: ccscope_settings::mdm::Format,
    output: Option<&Path>,
    profile: ccscope_settings::mdm::Profile,
) -> Result<u8, Usage> {
    use ccscope_settings::mdm::{ExportError, export};
    let loaded = match load(file)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    if profile.identifier.trim().is_empty() || profile.organization.trim().is_empty() {
        return usage("--identifier and --organization may not be empty");
    }
    let (text, report) = match export(&loaded.doc, format, &profile) {
        Ok(done) => done,
        Err(ExportError::Invalid(report)) => {
            print_report(&report);
            eprintln!(
                "{}: not exported: {} error(s) (the rules of settings apply)",
                file.display(),
                report.errors.len()
            );
            return Ok(exit::INVALID);
        }
        Err(e @ ExportError::Unrepresentable(_)) => {
            eprintln!("{}: not exported: {e}", file.display());
            return Ok(exit::INVALID);
        }
    };
    for warning in loaded.text_findings.iter().chain(&report.warnings) {
        print_issue(warning);
    }
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text.as_bytes()) {
                eprintln!("ccscope settings: cannot write {}: {e}", path.display());
                return Ok(if e.kind() == std::io::ErrorKind::PermissionDenied {
                    exit::PERMISSION
                } else {
                    exit::INVALID
                });
            }
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

fn parse_target(name: &str) -> Result<Target, Usage> {
    Target::parse(name).map_err(|e| Usage(e.to_string()))
}

fn current_sources(layout: &Layout) -> Sources {
    Sources::read(layout, paths::user_settings_file().as_deref(), None)
}

fn diff(file: &Path, target: &str) -> Result<u8, Usage> {
    let target = parse_target(target)?;
    let loaded = match load(file)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let layout = Layout::system();
    let mut p = preview(&layout, &current_sources(&layout), &target, &loaded.doc);
    for finding in loaded.text_findings {
        p.report.push(finding);
    }
    if p.unchanged {
        eprintln!("{} would not change", p.path);
    } else {
        print!("{}", p.diff);
    }
    print_report(&p.report);
    eprintln!("sha256 of the new {}: {}", target.name(), p.sha256);
    eprintln!(
        "sha256 of the current {}: {} (apply with --expect-current-sha256 {} to write only over this version)",
        target.name(),
        p.current_sha256,
        p.current_sha256
    );
    Ok(if p.report.is_valid() {
        exit::OK
    } else {
        exit::INVALID
    })
}

fn apply(
    file: &Path,
    target_name: &str,
    expect_current: Option<&str>,
    json: bool,
) -> Result<u8, Usage> {
    let target = parse_target(target_name)?;
    if let Some(current) = expect_current
        && current != elevate::ABSENT
        && !ccscope_settings::canonical::is_sha256_hex(current)
    {
        return Err(Usage(
            "--expect-current-sha256 takes 64 lower-case hex digits or \"absent\"".into(),
        ));
    }
    let loaded = match load(file)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let layout = Layout::system();
    let mut p = preview(&layout, &current_sources(&layout), &target, &loaded.doc);
    for finding in loaded.text_findings {
        p.report.push(finding);
    }
    if !p.report.is_valid() {
        if json {
            println!(
                "{}",
                json!({"ok": false, "outcome": "invalid", "report": p.report})
            );
        }
        print_report(&p.report);
        eprintln!(
            "nothing written: {} has {} error(s)",
            file.display(),
            p.report.errors.len()
        );
        return Ok(exit::INVALID);
    }
    for w in &p.report.warnings {
        print_issue(w);
    }
    if p.unchanged {
        if json {
            println!(
                "{}",
                json!({"ok": true, "outcome": "unchanged", "path": p.path})
            );
        } else {
            println!("{} already has this content; nothing to do", p.path);
        }
        return Ok(exit::OK);
    }
    let request = HelperRequest::Apply {
        target,
        document: p.proposed.into_bytes(),
        sha256: p.sha256,
        // The file as this preview saw it, unless the admin names the one they reviewed.
        expect_current: Some(expect_current.map_or(p.current_sha256, str::to_owned)),
    };
    finish(elevate::run_helper(&request), json)
}

fn finish(result: Result<HelperOutcome, elevate::ElevateError>, json: bool) -> Result<u8, Usage> {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "outcome": "failed", "message": e.to_string()})
                );
            }
            eprintln!("ccscope settings: {e}");
            return Ok(exit::PERMISSION);
        }
    };
    if json {
        println!("{}", serde_json::to_string(&outcome).unwrap_or_default());
    }
    Ok(match outcome {
        HelperOutcome::Ran { report, exit_code } if report.ok => {
            if !json {
                let path = report.path.unwrap_or_default();
                match report.backup {
                    Some(b) => println!("wrote {path} (previous version kept as backup {b})"),
                    None => println!("wrote {path}"),
                }
            }
            let _ = exit_code;
            exit::OK
        }
        HelperOutcome::Ran { report, exit_code } => {
            if let Some(e) = &report.error {
                eprintln!(
                    "ccscope settings: the helper refused ({}): {}",
                    e.code, e.message
                );
            }
            for issue in &report.issues {
                print_issue(issue);
            }
            match exit_code {
                1 => exit::INVALID,
                2 => exit::USAGE,
                _ => exit::PERMISSION,
            }
        }
        HelperOutcome::Cancelled => {
            eprintln!("ccscope settings: cancelled at the authentication prompt; nothing written");
            exit::PERMISSION
        }
        HelperOutcome::NotAuthorised => {
            eprintln!(
                "ccscope settings: not authorised to change managed settings; nothing written"
            );
            exit::PERMISSION
        }
        HelperOutcome::Failed { exit_code, message } => {
            eprintln!(
                "ccscope settings: the settings helper failed (exit {exit_code:?}): {message}"
            );
            exit::PERMISSION
        }
    })
}

fn backups(target: Option<&str>, json: bool) -> Result<u8, Usage> {
    let target = target.map(parse_target).transpose()?;
    let layout = Layout::system();
    let list = list_backups(&layout, target.as_ref());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else if list.is_empty() {
        println!("no backups in {}", layout.backup_dir().display());
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|b| {
                vec![
                    b.id.clone(),
                    b.target.clone(),
                    b.time.clone(),
                    b.bytes.to_string(),
                ]
            })
            .collect();
        print!("{}", table(&["ID", "TARGET", "REPLACED", "BYTES"], &rows));
    }
    Ok(exit::OK)
}

fn restore(id: &str, json: bool) -> Result<u8, Usage> {
    if parse_backup_id(id).is_none() {
        return usage(format!(
            "{id:?} is not a backup id; see `ccscope settings backups`"
        ));
    }
    finish(
        elevate::run_helper(&HelperRequest::Restore {
            backup_id: id.to_owned(),
        }),
        json,
    )
}

fn show(project: Option<PathBuf>, json: bool) -> anyhow::Result<u8> {
    let project = match project {
        Some(p) => Some(
            p.canonicalize()
                .with_context(|| format!("project directory {}", p.display()))?,
        ),
        None => std::env::current_dir()
            .ok()
            .filter(|d| d.join(".claude").is_dir()),
    };
    let layout = Layout::system();
    let sources = Sources::read(
        &layout,
        paths::user_settings_file().as_deref(),
        project.as_deref(),
    );
    let effective = sources.effective();
    if json {
        let out = json!({
            "platform": sources.platform,
            "managed_dir": sources.managed_dir,
            "managed_behavior": sources.managed_behavior,
            "sources": sources.sources,
            "legacy": sources.legacy,
            "managed_mcp": sources.managed_mcp,
            "policy": Value::Object(sources.managed_policy()),
            "effective": effective,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    println!(
        "Managed settings: {} ({:?}, managed sources {})",
        sources.managed_dir, sources.platform, sources.managed_behavior
    );
    println!("\nSources, highest priority first:");
    let rows: Vec<Vec<String>> = sources
        .sources
        .iter()
        .map(|s| {
            let state = match (s.status, s.in_effect) {
                (ccscope_settings::sources::Status::Loaded, true) => "in effect".to_owned(),
                (ccscope_settings::sources::Status::Loaded, false) => {
                    "ignored (first-wins)".to_owned()
                }
                (ccscope_settings::sources::Status::Absent, _) => "absent".to_owned(),
                (ccscope_settings::sources::Status::Invalid, _) => {
                    format!("INVALID: {}", s.error.clone().unwrap_or_default())
                }
            };
            vec![
                s.label.clone(),
                state,
                s.keys.to_string(),
                s.path.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table(&["SOURCE", "STATE", "KEYS", "PATH"], &rows));
    for legacy in &sources.legacy {
        println!("warning: {} still exists: {}", legacy.path, legacy.why);
    }
    if let Some(mcp) = &sources.managed_mcp {
        println!("note: {mcp} exists: Claude Code loads only the MCP servers it lists");
    }
    println!("\nEffective settings:");
    if effective.is_empty() {
        println!("  (none: Claude Code runs with its defaults)");
    }
    let rows: Vec<Vec<String>> = effective
        .iter()
        .map(|e| {
            let mut value = e.value.to_string();
            if value.len() > 60 {
                value = format!("{}…", value.chars().take(59).collect::<String>());
            }
            let also = e
                .also
                .iter()
                .map(|c| format!("{} ({})", c.source, c.note))
                .collect::<Vec<_>>()
                .join("; ");
            vec![e.pointer.clone(), value, e.source.clone(), also]
        })
        .collect();
    print!(
        "{}",
        table(&["SETTING", "VALUE", "FROM", "ALSO SET BY"], &rows)
    );
    Ok(exit::OK)
}
