//! Claude Code settings for ccscope: where every source lives ([`paths`]), reading them and
//! computing effective values ([`sources`]), validation against the SchemaStore schema plus the
//! 2.1.330 overlay and semantic rules ([`validate`]), the canonical byte form and diffs
//! ([`canonical`]), named write targets ([`target`]), backups ([`backup`]), and launching the
//! privileged helper with the OS's own prompt ([`elevate`]). Pure apart from reading files and
//! starting the helper; it never writes a managed file itself.

pub mod backup;
pub mod canonical;
pub mod elevate;
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
pub use validate::{Issue, Report, Scope, Severity, parse, validate};

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
