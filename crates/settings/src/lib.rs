//! Claude Code settings for ccscope: where every source lives ([`paths`]), reading them and
//! computing effective values ([`sources`]), validation against the SchemaStore schema plus the
//! 2.1.330 overlay and semantic rules ([`validate`]), the canonical byte form and diffs
//! ([`canonical`]), named write targets ([`target`]), backups ([`backup`]), and launching the
//! privileged helper with the OS's own prompt ([`elevate`]). Pure apart from reading files and
//! starting the helper; it never writes a managed file itself.

pub mod backup;
pub mod canonical;
pub mod elevate;
pub mod file;
mod issue;
pub mod mdm;
pub mod merge;
pub mod os_policy;
pub mod paths;
mod rules;
pub mod schema;
pub mod sources;
pub mod target;
pub mod validate;

pub use rules::{parse_switch, percent_decode, permission_rule_problem};
pub use target::Target;
pub use validate::{
    Issue, MAX_DOCUMENT_BYTES, Report, Scope, Severity, parse, parse_bytes, validate,
};

/// A document ready to be written: its canonical bytes, their hash, and its validation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Prepared {
    pub bytes: String,
    pub sha256: String,
    pub report: Report,
}

/// Canonicalises and validates `doc` for `scope`.
pub fn prepare(doc: &serde_json::Value, scope: Scope) -> Prepared {
    let bytes = canonical::canonical_bytes(doc);
    Prepared {
        sha256: canonical::sha256_hex(&bytes),
        bytes: String::from_utf8_lossy(&bytes).into_owned(),
        report: validate(doc, scope),
    }
}

/// What writing `doc` to a target would do: the exact bytes, their hash, the diff against the
/// file on disk, and every error and warning (including values other sources override).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Preview {
    pub target: String,
    pub path: String,
    pub exists: bool,
    /// The file's current text, when it exists and is UTF-8.
    pub current: Option<String>,
    /// SHA-256 of the file's current bytes, or `absent`: what the apply passes back as
    /// `--expect-current-sha256`, so a file changed since this preview is not overwritten.
    pub current_sha256: String,
    /// The exact bytes that would be written.
    pub proposed: String,
    /// SHA-256 of `proposed`: the value to approve and pass to the helper.
    pub sha256: String,
    pub unchanged: bool,
    pub diff: String,
    pub report: Report,
}

/// Builds the preview of writing `doc` to `target`.
pub fn preview(
    layout: &paths::Layout,
    sources: &sources::Sources,
    target: &Target,
    doc: &serde_json::Value,
) -> Preview {
    let path = target.path(layout);
    let current = file::read_regular_file(&path, sources::MAX_SETTINGS_FILE_BYTES)
        .ok()
        .flatten();
    let current_text = current
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let mut prepared = prepare(doc, Scope::Managed);
    if doc.is_object() {
        for warning in sources.shadow_warnings(target, doc) {
            prepared.report.push(warning);
        }
    }
    let old = current_text.clone().unwrap_or_default();
    Preview {
        target: target.name(),
        path: path.display().to_string(),
        exists: current.is_some(),
        unchanged: current.as_deref() == Some(prepared.bytes.as_bytes()),
        diff: canonical::unified_diff(target.file_name(), &old, &prepared.bytes),
        current_sha256: current
            .as_deref()
            .map_or_else(|| elevate::ABSENT.to_owned(), canonical::sha256_hex),
        current: current_text,
        proposed: prepared.bytes,
        sha256: prepared.sha256,
        report: prepared.report,
    }
}
