//! Every settings source Claude Code reads on this machine, in precedence order, and the
//! effective value of each setting with the source it comes from (reference §9.1–§9.2).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::merge::{delivers_policy, merge_drop_in};
use crate::os_policy;
use crate::paths::{self, DROP_IN_DIR_NAME, Layout, Platform};
use crate::target::Target;
use crate::validate::{Issue, pointer_token};

/// Where Claude Code caches server-managed settings, beside the user's `settings.json`.
pub const REMOTE_SETTINGS_FILE: &str = "remote-settings.json";

/// Largest settings file read (Claude Code's files are a few KB).
pub const MAX_SETTINGS_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Server-managed settings (claude.ai admin console, Claude apps gateway), as cached in
    /// `~/.claude/remote-settings.json`.
    ServerManaged,
    ManagedPreferences,
    RegistryMachine,
    ManagedFile,
    DropIn,
    RegistryUser,
    Local,
    Project,
    User,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Managed,
    Local,
    Project,
    User,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Absent,
    Loaded,
    Invalid,
}

/// One place settings can come from.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub kind: SourceKind,
    pub level: Level,
    /// Short name people recognise, e.g. `managed-settings.d/50-telemetry.json`.
    pub label: String,
    pub path: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Number of top-level keys it sets.
    pub keys: usize,
    /// Whether Claude Code uses it (a managed source can be skipped under first-wins).
    pub in_effect: bool,
    #[serde(skip)]
    pub doc: Option<Map<String, Value>>,
}

impl Source {
    fn new(kind: SourceKind, label: impl Into<String>, path: Option<&Path>) -> Source {
        let level = match kind {
            SourceKind::Local => Level::Local,
            SourceKind::Project => Level::Project,
            SourceKind::User => Level::User,
            _ => Level::Managed,
        };
        Source {
            kind,
            level,
            label: label.into(),
            path: path.map(|p| p.display().to_string()),
            status: Status::Absent,
            error: None,
            keys: 0,
            in_effect: false,
            doc: None,
        }
    }

    fn with(mut self, loaded: Option<Result<Value, String>>) -> Source {
        match loaded {
            None => {}
            Some(Ok(Value::Object(map))) => {
                self.status = Status::Loaded;
                self.keys = map.len();
                self.doc = Some(map);
            }
            Some(Ok(_)) => {
                self.status = Status::Invalid;
                self.error = Some("not a JSON object".into());
            }
            Some(Err(e)) => {
                self.status = Status::Invalid;
                self.error = Some(e);
            }
        }
        self
    }

    fn is_drop_in_or_file(&self) -> bool {
        matches!(self.kind, SourceKind::ManagedFile | SourceKind::DropIn)
    }
}

/// Reads a settings file: `None` when it does not exist.
/// Only a regular file is read (a link to one is followed), at most `MAX_SETTINGS_FILE_BYTES`:
/// a cloned repository may carry a link to `/dev/zero` or a FIFO.
pub fn read_settings_file(path: &Path) -> Option<Result<Value, String>> {
    match crate::file::read_regular_file(path, MAX_SETTINGS_FILE_BYTES) {
        Ok(None) => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(Some(bytes)) => {
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}")))
        }
    }
}

/// The drop-in files Claude Code reads, in its order: `*.json`, not hidden, alphabetical.
pub fn drop_in_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// A legacy managed file that still exists.
#[derive(Clone, Debug, Serialize)]
pub struct LegacyFound {
    pub path: String,
    pub why: &'static str,
}

/// Everything Claude Code would read on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct Sources {
    pub platform: Platform,
    pub managed_dir: String,
    /// `first-wins` or `merge` (from `managedSourcesBehavior`).
    pub managed_behavior: &'static str,
    /// Highest priority first.
    pub sources: Vec<Source>,
    pub legacy: Vec<LegacyFound>,
    /// Present when `managed-mcp.json` exists: only its servers load.
    pub managed_mcp: Option<String>,
}

impl Sources {
    /// Reads every source. `user_file` is the user's settings file; `project` a project
    /// directory whose `.claude/settings*.json` to include.
    pub fn read(layout: &Layout, user_file: Option<&Path>, project: Option<&Path>) -> Sources {
        let mut sources = Vec::new();
        // Server-managed settings, highest of all, as Claude Code caches them beside the
        // user's settings (listed when the cache exists).
        if let Some(cache) = user_file
            .and_then(Path::parent)
            .map(|dir| dir.join(REMOTE_SETTINGS_FILE))
            .filter(|p| p.exists())
        {
            sources.push(
                Source::new(
                    SourceKind::ServerManaged,
                    "server-managed settings",
                    Some(&cache),
                )
                .with(read_settings_file(&cache)),
            );
        }
        let os_stores = !layout.under_test_root;
        if os_stores && layout.platform == Platform::MacOs {
            sources.push(
                Source::new(
                    SourceKind::ManagedPreferences,
                    "macOS managed preferences",
                    Some(Path::new(paths::MACOS_MANAGED_PLIST)),
                )
                .with(os_policy::read_managed_preferences()),
            );
        }
        if os_stores && layout.platform == Platform::Windows {
            sources.push(
                Source::new(
                    SourceKind::RegistryMachine,
                    r"HKLM\SOFTWARE\Policies\ClaudeCode",
                    None,
                )
                .with(os_policy::read_registry(true)),
            );
        }
        // The file tier: later drop-ins win, so they come first in priority order.
        let mut file_tier = vec![
            Source::new(
                SourceKind::ManagedFile,
                paths::MANAGED_FILE_NAME,
                Some(&layout.managed_file()),
            )
            .with(read_settings_file(&layout.managed_file())),
        ];
        for name in drop_in_names(&layout.drop_in_dir()) {
            let path = layout.drop_in_dir().join(&name);
            file_tier.push(
                Source::new(
                    SourceKind::DropIn,
                    format!("{DROP_IN_DIR_NAME}/{name}"),
                    Some(&path),
                )
                .with(read_settings_file(&path)),
            );
        }
        file_tier.reverse();
        sources.extend(file_tier);
        if os_stores && layout.platform == Platform::Windows {
            sources.push(
                Source::new(
                    SourceKind::RegistryUser,
                    r"HKCU\SOFTWARE\Policies\ClaudeCode",
                    None,
                )
                .with(os_policy::read_registry(false)),
            );
        }
        if let Some(project) = project {
            let local = paths::local_settings_file(project);
            sources.push(
                Source::new(
                    SourceKind::Local,
                    ".claude/settings.local.json",
                    Some(&local),
                )
                .with(read_settings_file(&local)),
            );
            let shared = paths::project_settings_file(project);
            sources.push(
                Source::new(SourceKind::Project, ".claude/settings.json", Some(&shared))
                    .with(read_settings_file(&shared)),
            );
        }
        if let Some(user) = user_file {
            sources.push(
                Source::new(SourceKind::User, "~/.claude/settings.json", Some(user))
                    .with(read_settings_file(user)),
            );
        }
        let legacy = layout
            .legacy_files
            .iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, why)| LegacyFound {
                path: p.display().to_string(),
                why,
            })
            .collect();
        let managed_mcp = layout.managed_mcp_file();
        let mut out = Sources {
            platform: layout.platform,
            managed_dir: layout.managed_dir.display().to_string(),
            managed_behavior: "first-wins",
            sources,
            legacy,
            managed_mcp: managed_mcp
                .exists()
                .then(|| managed_mcp.display().to_string()),
        };
        out.decide_in_effect();
        out
    }

    /// Marks which sources Claude Code uses: under `first-wins` only the first managed source
    /// that delivers policy (the file and its drop-ins count as one source).
    fn decide_in_effect(&mut self) {
        let merge = self.sources.iter().any(|s| {
            s.level == Level::Managed
                && s.doc
                    .as_ref()
                    .and_then(|d| d.get("managedSourcesBehavior"))
                    .and_then(Value::as_str)
                    == Some("merge")
        });
        self.managed_behavior = if merge { "merge" } else { "first-wins" };
        let mut chosen: Option<&'static str> = None;
        let group = group_of;
        if !merge {
            for s in &self.sources {
                if s.level == Level::Managed && s.doc.as_ref().is_some_and(delivers_policy) {
                    chosen = Some(group(s));
                    break;
                }
            }
        }
        for i in 0..self.sources.len() {
            let s = &self.sources[i];
            let in_effect = s.status == Status::Loaded
                && (s.level != Level::Managed || merge || chosen.is_some_and(|g| g == group(s)));
            self.sources[i].in_effect = in_effect;
        }
    }

    /// Replaces (or adds) the document of `target` with `doc`, as if it were written.
    pub fn with_proposed(&self, target: &Target, doc: &Value) -> Sources {
        let mut next = self.clone();
        let label = target.name();
        let map = doc.as_object().cloned();
        match next.sources.iter_mut().find(|s| s.label == label) {
            Some(s) => {
                s.status = if map.is_some() {
                    Status::Loaded
                } else {
                    Status::Invalid
                };
                s.keys = map.as_ref().map_or(0, Map::len);
                s.doc = map;
                s.error = None;
            }
            None => {
                let kind = match target {
                    Target::Managed => SourceKind::ManagedFile,
                    Target::DropIn(_) => SourceKind::DropIn,
                };
                let mut s = Source::new(kind, label, None);
                s.status = Status::Loaded;
                s.keys = map.as_ref().map_or(0, Map::len);
                s.doc = map;
                // Keep the file tier's order: drop-ins by name, later first, the file last.
                let position = next
                    .sources
                    .iter()
                    .position(|o| match (&o.kind, target) {
                        (SourceKind::DropIn, Target::DropIn(_)) => o.label < s.label,
                        (SourceKind::ManagedFile, _) => true,
                        (k, _) => matches!(
                            k,
                            SourceKind::RegistryUser
                                | SourceKind::Local
                                | SourceKind::Project
                                | SourceKind::User
                        ),
                    })
                    .unwrap_or(next.sources.len());
                next.sources.insert(position, s);
            }
        }
        next.decide_in_effect();
        next
    }

    /// The managed policy Claude Code would apply, merged as it merges.
    pub fn managed_policy(&self) -> Map<String, Value> {
        let mut policy = Map::new();
        // Lowest priority first so that higher ones merge over it.
        for s in self
            .sources
            .iter()
            .rev()
            .filter(|s| s.level == Level::Managed && s.in_effect)
        {
            if let Some(doc) = &s.doc {
                merge_drop_in(&mut policy, doc);
            }
        }
        policy
    }

    /// Each setting's effective value and where it comes from.
    pub fn effective(&self) -> Vec<Effective> {
        let mut units: Vec<String> = Vec::new();
        for s in &self.sources {
            // Managed sources a first-wins choice skips still count for `env` (merged per
            // variable) and the telemetry unit.
            let across = s.level == Level::Managed && s.status == Status::Loaded;
            if !s.in_effect && !across {
                continue;
            }
            if let Some(doc) = &s.doc {
                for pointer in unit_pointers(doc) {
                    let counts = s.in_effect
                        || pointer.starts_with("/env/")
                        || pointer == "/otelHeadersHelper";
                    if counts && !units.contains(&pointer) {
                        units.push(pointer);
                    }
                }
            }
        }
        units.sort();
        units
            .into_iter()
            .filter_map(|pointer| self.effective_at(&pointer))
            .collect()
    }

    /// The managed source (its group, and the label of its highest file that sets any) from
    /// which Claude Code takes the telemetry unit whole: the highest that sets any of it.
    fn telemetry_unit_source(&self) -> Option<(&'static str, &str)> {
        self.sources
            .iter()
            .filter(|s| s.level == Level::Managed && s.status == Status::Loaded)
            .find(|s| s.doc.as_ref().is_some_and(sets_managed_unit))
            .map(|s| (group_of(s), s.label.as_str()))
    }

    /// Every managed source group that sets part of the telemetry unit, highest first.
    fn telemetry_unit_groups(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        for s in self
            .sources
            .iter()
            .filter(|s| s.level == Level::Managed && s.status == Status::Loaded)
            .filter(|s| s.doc.as_ref().is_some_and(sets_managed_unit))
        {
            if !out.iter().any(|(g, _)| *g == group_of(s)) {
                out.push((group_of(s), s.label.as_str()));
            }
        }
        out
    }

    fn effective_at(&self, pointer: &str) -> Option<Effective> {
        let mut contributors: Vec<(&Source, &Value)> = Vec::new();
        let mut ignored: Vec<Contribution> = Vec::new();
        // `env` merges per variable across every managed source (Claude Code 2.1.223+), first-wins
        // or not; the telemetry unit comes whole from one of them (reference §8.2, §9.2).
        let env_var = pointer.strip_prefix("/env/");
        let unit = env_var.is_some_and(is_managed_unit_var) || pointer == "/otelHeadersHelper";
        let unit_source = if unit {
            self.telemetry_unit_source()
        } else {
            None
        };
        for s in &self.sources {
            let managed = s.level == Level::Managed && s.status == Status::Loaded;
            let across = managed && (env_var.is_some() || unit);
            if !s.in_effect && !across {
                continue;
            }
            let Some(value) = s.doc.as_ref().and_then(|d| lookup(d, pointer)) else {
                continue;
            };
            if managed
                && let Some((group, label)) = unit_source
                && group_of(s) != group
            {
                ignored.push(Contribution {
                    source: s.label.clone(),
                    value: value.clone(),
                    note: format!(
                        "ignored: Claude Code takes the telemetry unit whole from {label}, the highest managed source that sets any of it"
                    ),
                });
                continue;
            }
            // A project or local file cannot set the telemetry unit; it may only turn some of it
            // off, and only when nothing higher sets the variable (reference §8.1).
            let ignored_here = pointer.strip_prefix("/env/").is_some_and(|name| {
                crate::rules::is_telemetry_unit(name)
                    && !(contributors.is_empty()
                        && crate::rules::project_may_set(name, value.as_str().unwrap_or_default()))
            });
            if matches!(s.level, Level::Project | Level::Local) && ignored_here {
                ignored.push(Contribution {
                    source: s.label.clone(),
                    value: value.clone(),
                    note: "ignored: project and local settings cannot set telemetry variables (only turn some off when nothing higher sets them)".into(),
                });
                continue;
            }
            contributors.push((s, value));
        }
        let (winner, winning_value) = *contributors.first()?;
        let merges =
            winning_value.is_array() && !matches!(pointer, "/fallbackModel" | "/availableModels");
        let value = if merges {
            let mut all: Vec<Value> = Vec::new();
            for (_, v) in contributors.iter().rev() {
                for item in v.as_array().into_iter().flatten() {
                    if !all.contains(item) {
                        all.push(item.clone());
                    }
                }
            }
            Value::Array(all)
        } else {
            winning_value.clone()
        };
        let also = contributors
            .iter()
            .skip(1)
            .map(|(s, v)| Contribution {
                source: s.label.clone(),
                value: (*v).clone(),
                note: if merges {
                    "merged".into()
                } else {
                    "overridden".into()
                },
            })
            .chain(ignored)
            .collect();
        Some(Effective {
            pointer: pointer.to_owned(),
            value,
            source: winner.label.clone(),
            level: winner.level,
            also,
        })
    }

    /// Warnings for an admin about to write `proposed` to `target`: values a higher source
    /// overrides, a policy store that makes the file irrelevant, legacy files.
    pub fn shadow_warnings(&self, target: &Target, proposed: &Value) -> Vec<Issue> {
        let mut out = Vec::new();
        for legacy in &self.legacy {
            out.push(Issue::warning(
                "",
                format!("{} still exists: {}", legacy.path, legacy.why),
            ));
        }
        let next = self.with_proposed(target, proposed);
        let label = target.name();
        let groups = next.telemetry_unit_groups();
        if groups.len() > 1 {
            let others: Vec<&str> = groups[1..].iter().map(|(_, l)| *l).collect();
            out.push(Issue::warning(
                "/env",
                format!(
                    "the telemetry unit (OTEL_EXPORTER_OTLP_*, OTEL_LOG_*, OTEL_LOGS_EXPORTER, otelHeadersHelper, …) is split across managed sources: Claude Code takes all of it from {} and ignores it in {}; set it in one source",
                    groups[0].1,
                    others.join(", ")
                ),
            ));
        }
        if let Some(higher) = next
            .sources
            .iter()
            .find(|s| s.level == Level::Managed && s.in_effect && !s.is_drop_in_or_file())
            .filter(|_| next.managed_behavior == "first-wins")
        {
            out.push(Issue::warning(
                "",
                format!("{} delivers managed policy, so Claude Code ignores {label} (managedSourcesBehavior is first-wins)", higher.label),
            ));
            return out;
        }
        let Some(doc) = proposed.as_object() else {
            return out;
        };
        for pointer in unit_pointers(doc) {
            let Some(effective) = next.effective_at(&pointer) else {
                continue;
            };
            if effective.source == label || effective.value.is_array() {
                continue;
            }
            let ours = lookup(doc, &pointer);
            if ours != Some(&effective.value) {
                out.push(Issue::warning(
                    pointer.clone(),
                    format!(
                        "{} also sets this and wins: {}",
                        effective.source, effective.value
                    ),
                ));
            }
        }
        out
    }
}

/// The managed source a source belongs to (the file and its drop-ins are one).
fn group_of(s: &Source) -> &'static str {
    if s.is_drop_in_or_file() {
        "file"
    } else {
        kind_group(s.kind)
    }
}

/// Variables of the telemetry unit that managed sources deliver whole (reference §8.2).
fn is_managed_unit_var(name: &str) -> bool {
    name.starts_with("OTEL_EXPORTER_OTLP_")
        || name.starts_with("OTEL_LOG_")
        || matches!(
            name,
            "OTEL_LOGS_EXPORTER" | "ENABLE_BETA_TRACING_DETAILED" | "BETA_TRACING_ENDPOINT"
        )
}

/// Whether a document sets any part of the managed telemetry unit.
fn sets_managed_unit(doc: &Map<String, Value>) -> bool {
    doc.contains_key("otelHeadersHelper")
        || doc
            .get("env")
            .and_then(Value::as_object)
            .is_some_and(|env| env.keys().any(|k| is_managed_unit_var(k)))
}

fn kind_group(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::ServerManaged => "remote",
        SourceKind::ManagedPreferences => "plist",
        SourceKind::RegistryMachine => "hklm",
        SourceKind::RegistryUser => "hkcu",
        _ => "other",
    }
}

/// Objects whose members are settings of their own (merged per key across sources).
const EXPANDED: &[&str] = &["env", "permissions", "sandbox"];

/// The pointers at which a document sets something: top-level keys, and one level down in
/// `env`, `permissions` and `sandbox`.
fn unit_pointers(doc: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in doc {
        match value.as_object() {
            Some(inner) if EXPANDED.contains(&key.as_str()) => {
                for sub in inner.keys() {
                    out.push(format!("/{}/{}", pointer_token(key), pointer_token(sub)));
                }
            }
            _ => out.push(format!("/{}", pointer_token(key))),
        }
    }
    out
}

fn lookup<'a>(doc: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut parts = pointer.trim_start_matches('/').splitn(2, '/');
    let first = unescape(parts.next()?);
    let value = doc.get(&first)?;
    match parts.next() {
        None => Some(value),
        Some(rest) => value.as_object()?.get(&unescape(rest)),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Another source's value for a setting.
#[derive(Clone, Debug, Serialize)]
pub struct Contribution {
    pub source: String,
    pub value: Value,
    /// `overridden`, `merged`, or why Claude Code ignores it.
    pub note: String,
}

/// A setting's effective value.
#[derive(Clone, Debug, Serialize)]
pub struct Effective {
    pub pointer: String,
    pub value: Value,
    /// The source whose value wins (for merged lists: the highest contributing source).
    pub source: String,
    pub level: Level,
    pub also: Vec<Contribution>,
}

/// Convenience: this machine's sources, with the user's file and an optional project.
pub fn read_system(project: Option<PathBuf>) -> Sources {
    let layout = Layout::system();
    let user = paths::user_settings_file();
    Sources::read(&layout, user.as_deref(), project.as_deref())
}
