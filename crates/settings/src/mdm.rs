//! A managed-settings policy as the files fleet tools deploy: a macOS configuration profile
//! (`.mobileconfig`, preference domain `com.anthropic.claudecode`), a Windows registry file
//! (`HKLM\SOFTWARE\Policies\ClaudeCode` value `Settings`, REG_SZ single-line JSON, as
//! Anthropic's ADMX writes it), an Intune platform script (PowerShell writing
//! `C:\Program Files\ClaudeCode\managed-settings.json`), and a `managed-settings.d` drop-in.
//! Shapes follow Anthropic's templates (`shared/reference/claude-code-mdm`). Every export is
//! validated first, with the rules of Apply, and refused when invalid.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::validate::{Report, Scope, validate};

/// The macOS preference domain Claude Code reads.
pub const PREFERENCE_DOMAIN: &str = "com.anthropic.claudecode";
/// The Windows policy key and value.
pub const REGISTRY_KEY: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\ClaudeCode";
pub const REGISTRY_VALUE: &str = "Settings";

/// What an export produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A complete configuration profile.
    Mobileconfig,
    /// A `.reg` file for the machine policy.
    Reg,
    /// An Intune platform script.
    Ps1,
    /// A `managed-settings.d/NN-name.json` drop-in (or the managed file itself).
    Json,
}

impl Format {
    /// The usual file name of an export.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Mobileconfig => "claude-code.mobileconfig",
            Format::Reg => "claude-code-policy.reg",
            Format::Ps1 => "Set-ClaudeCodePolicy.ps1",
            Format::Json => "50-policy.json",
        }
    }
}

/// Who the profile says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `PayloadOrganization`.
    pub organization: String,
    /// `PayloadIdentifier` of the profile (the payload's is this plus `.settings`).
    pub identifier: String,
    /// `PayloadDisplayName`.
    pub display_name: String,
}

impl Default for Profile {
    fn default() -> Profile {
        Profile {
            organization: "ccscope".into(),
            identifier: "com.anthropic.claudecode.profile".into(),
            display_name: "Claude Code Managed Settings".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The policy breaks the rules Apply enforces.
    #[error("the policy is not valid managed settings ({} error(s))", .0.errors.len())]
    Invalid(Report),
    #[error("{0}")]
    Unrepresentable(String),
}

/// The export of `policy` in `format`, after validating it as managed settings. Also returns
/// the validation's warnings.
pub fn export(
    policy: &Value,
    format: Format,
    profile: &Profile,
) -> Result<(String, Report), ExportError> {
    let report = validate(policy, Scope::Managed);
    if !report.is_valid() {
        return Err(ExportError::Invalid(report));
    }
    let text = match format {
        Format::Mobileconfig => mobileconfig(policy, profile)?,
        Format::Reg => reg(policy),
        Format::Ps1 => ps1(policy),
        Format::Json => pretty(policy),
    };
    Ok((text, report))
}

fn pretty(policy: &Value) -> String {
    let mut text = serde_json::to_string_pretty(policy).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// A UUID derived from `parts` (SHA-256, formatted as a version 5 UUID): the same policy and
/// identity give the same PayloadUUIDs, so re-exporting does not make MDM see a new profile.
fn stable_uuid(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for p in parts {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&hash.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The first character XML 1.0 cannot carry, so no property list can: U+0000–U+001F other than
/// tab, LF and CR, and U+FFFE/U+FFFF.
fn xml_forbidden(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    })
}

/// Refuses `text` (at `pointer`, a JSON pointer or a profile field) when a plist cannot hold it.
fn plist_text(text: &str, pointer: &str) -> Result<(), ExportError> {
    match xml_forbidden(text) {
        None => Ok(()),
        Some(c) => Err(ExportError::Unrepresentable(format!(
            "{} holds U+{:04X}, which a configuration profile (XML) cannot carry: remove it, or deploy this policy as JSON",
            if pointer.is_empty() { "/" } else { pointer },
            c as u32
        ))),
    }
}

fn to_plist(value: &Value, pointer: &str) -> Result<plist::Value, ExportError> {
    Ok(match value {
        Value::Null => {
            return Err(ExportError::Unrepresentable(format!(
                "{} is null: a property list has no null (remove the key)",
                if pointer.is_empty() { "/" } else { pointer }
            )));
        }
        Value::Bool(b) => plist::Value::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => plist::Value::Integer(i.into()),
            (None, Some(u), _) => plist::Value::Integer(u.into()),
            (_, _, Some(f)) => plist::Value::Real(f),
            _ => plist::Value::Real(0.0),
        },
        Value::String(s) => {
            plist_text(s, pointer)?;
            plist::Value::String(s.clone())
        }
        Value::Array(items) => plist::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_plist(v, &format!("{pointer}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut dict = plist::Dictionary::new();
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                let at = format!("{pointer}/{escaped}");
                plist_text(k, &format!("the key of {at}"))?;
                dict.insert(k.clone(), to_plist(v, &at)?);
            }
            plist::Value::Dictionary(dict)
        }
    })
}

fn dict(entries: Vec<(&str, plist::Value)>) -> plist::Value {
    let mut d = plist::Dictionary::new();
    for (k, v) in entries {
        d.insert(k.to_owned(), v);
    }
    plist::Value::Dictionary(d)
}

fn string(s: &str) -> plist::Value {
    plist::Value::String(s.to_owned())
}

/// The configuration profile: one `com.apple.ManagedClient.preferences` payload forcing the
/// policy's keys in the `com.anthropic.claudecode` domain (as Anthropic's template does).
fn mobileconfig(policy: &Value, profile: &Profile) -> Result<String, ExportError> {
    for (field, text) in [
        ("the profile's organization", &profile.organization),
        ("the profile's identifier", &profile.identifier),
        ("the profile's display name", &profile.display_name),
    ] {
        plist_text(text, field)?;
    }
    let settings = to_plist(policy, "")?;
    let canonical =
        String::from_utf8_lossy(&crate::canonical::canonical_bytes(policy)).into_owned();
    let profile_uuid = stable_uuid(&[
        "profile",
        &profile.identifier,
        &profile.organization,
        &canonical,
    ]);
    let payload_uuid = stable_uuid(&[
        "payload",
        &profile.identifier,
        &profile.organization,
        &canonical,
    ]);
    let payload = dict(vec![
        ("PayloadDisplayName", string("Claude Code")),
        (
            "PayloadIdentifier",
            string(&format!("{}.settings", profile.identifier)),
        ),
        ("PayloadType", string("com.apple.ManagedClient.preferences")),
        ("PayloadUUID", string(&payload_uuid)),
        ("PayloadVersion", plist::Value::Integer(1.into())),
        (
            "PayloadContent",
            dict(vec![(
                PREFERENCE_DOMAIN,
                dict(vec![(
                    "Forced",
                    plist::Value::Array(vec![dict(vec![("mcx_preference_settings", settings)])]),
                )]),
            )]),
        ),
    ]);
    let root = dict(vec![
        ("PayloadDisplayName", string(&profile.display_name)),
        (
            "PayloadDescription",
            string("Claude Code managed settings, exported by ccscope."),
        ),
        ("PayloadIdentifier", string(&profile.identifier)),
        ("PayloadOrganization", string(&profile.organization)),
        ("PayloadScope", string("System")),
        ("PayloadType", string("Configuration")),
        ("PayloadUUID", string(&profile_uuid)),
        ("PayloadVersion", plist::Value::Integer(1.into())),
        ("PayloadContent", plist::Value::Array(vec![payload])),
    ]);
    let mut out = Vec::new();
    plist::to_writer_xml(&mut out, &root)
        .map_err(|e| ExportError::Unrepresentable(format!("cannot write the profile: {e}")))?;
    let mut text = String::from_utf8(out)
        .map_err(|e| ExportError::Unrepresentable(format!("cannot write the profile: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// JSON text with every non-ASCII character written as a `\uXXXX` escape (JSON outside its
/// strings is ASCII, so this is the same document): bytes every registry and script tool reads
/// the same way, whatever its code page.
fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The registry file: sets the machine policy value (idempotent: importing it again writes the
/// same value), with how to remove it.
fn reg(policy: &Value) -> String {
    let json = ascii_only(&serde_json::to_string(policy).unwrap_or_else(|_| "{}".into()));
    let escaped = json.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "Windows Registry Editor Version 5.00\r\n\
         \r\n\
         ; Claude Code managed settings (exported by ccscope). Import: reg import <this file>\r\n\
         ; (as an administrator). Importing again rewrites the same value.\r\n\
         ; Remove: reg delete \"HKLM\\SOFTWARE\\Policies\\ClaudeCode\" /v Settings /f\r\n\
         \r\n\
         [{REGISTRY_KEY}]\r\n\
         \"{REGISTRY_VALUE}\"=\"{escaped}\"\r\n"
    )
}

/// The Intune platform script: writes the managed file when it differs (idempotent), as
/// UTF-8 without a byte order mark.
fn ps1(policy: &Value) -> String {
    // A JSON text never holds a raw line break inside a string, so no line of it can end the
    // here-string ('@ at the start of a line).
    let json = ascii_only(&serde_json::to_string_pretty(policy).unwrap_or_else(|_| "{}".into()));
    format!(
        "<#\r\n\
         Deploys Claude Code managed settings (exported by ccscope).\r\n\
         \r\n\
         Intune: Devices > Scripts and remediations > Platform scripts > Add (Windows 10 and later).\r\n\
         \x20 Run this script using the logged on credentials: No\r\n\
         \x20 Run script in 64 bit PowerShell Host: Yes\r\n\
         \r\n\
         Claude Code reads C:\\Program Files\\ClaudeCode\\managed-settings.json at startup. Running\r\n\
         this script again changes nothing when the file already holds this policy.\r\n\
         Remove: Remove-Item -LiteralPath (Join-Path $env:ProgramFiles 'ClaudeCode\\managed-settings.json')\r\n\
         #>\r\n\
         \r\n\
         $ErrorActionPreference = 'Stop'\r\n\
         \r\n\
         $dir = Join-Path $env:ProgramFiles 'ClaudeCode'\r\n\
         New-Item -ItemType Directory -Path $dir -Force | Out-Null\r\n\
         \r\n\
         $json = @'\r\n\
         {json}\r\n\
         '@\r\n\
         \r\n\
         $path = Join-Path $dir 'managed-settings.json'\r\n\
         if ((Test-Path -LiteralPath $path) -and ([System.IO.File]::ReadAllText($path) -ceq $json)) {{\r\n\
         \x20   Write-Output \"Unchanged $path\"\r\n\
         \x20   exit 0\r\n\
         }}\r\n\
         [System.IO.File]::WriteAllText($path, $json, (New-Object System.Text.UTF8Encoding($false)))\r\n\
         Write-Output \"Wrote $path\"\r\n",
        json = json.replace('\n', "\r\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Value {
        json!({
            "permissions": {"disableBypassPermissionsMode": "disable", "deny": ["Bash(curl:*)"]},
            "env": {"OTEL_RESOURCE_ATTRIBUTES": "department=platform,team=core"},
            "companyAnnouncements": ["Grüße from \"IT\": see C:\\policies 🚀"],
            "cleanupPeriodDays": 30
        })
    }

    /// The policy a profile forces, as JSON.
    fn forced(text: &str) -> Value {
        let root = plist::Value::from_reader_xml(text.as_bytes()).expect("plist");
        let settings = root
            .as_dictionary()
            .and_then(|d| d.get("PayloadContent"))
            .and_then(|c| c.as_array())
            .and_then(|a| a.first())
            .and_then(|p| p.as_dictionary())
            .and_then(|p| p.get("PayloadContent"))
            .and_then(|c| c.as_dictionary())
            .and_then(|c| c.get(PREFERENCE_DOMAIN))
            .and_then(|d| d.as_dictionary())
            .and_then(|d| d.get("Forced"))
            .and_then(|f| f.as_array())
            .and_then(|f| f.first())
            .and_then(|f| f.as_dictionary())
            .and_then(|f| f.get("mcx_preference_settings"))
            .expect("settings");
        crate::os_policy::plist_to_json(settings)
    }

    #[test]
    fn the_profile_round_trips_and_its_uuids_are_stable() {
        let (text, _) =
            export(&policy(), Format::Mobileconfig, &Profile::default()).expect("export");
        assert_eq!(forced(&text), policy());
        let (again, _) =
            export(&policy(), Format::Mobileconfig, &Profile::default()).expect("export");
        assert_eq!(text, again, "same policy, same profile");
        let other = Profile {
            organization: "Example".into(),
            ..Profile::default()
        };
        let (third, _) = export(&policy(), Format::Mobileconfig, &other).expect("export");
        assert_ne!(text, third);
    }

    #[test]
    fn characters_no_profile_can_carry_are_refused_with_their_pointer() {
        for (policy, pointer, code) in [
            (
                json!({"companyAnnouncements": ["ok", "bell\u{7}"]}),
                "/companyAnnouncements/1",
                "U+0007",
            ),
            (
                json!({"companyAnnouncements": ["nul\u{0}"]}),
                "/companyAnnouncements/0",
                "U+0000",
            ),
            (
                json!({"companyAnnouncements": ["x\u{FFFE}"]}),
                "/companyAnnouncements/0",
                "U+FFFE",
            ),
            (
                json!({"companyAnnouncements": ["\u{FFFF}"]}),
                "/companyAnnouncements/0",
                "U+FFFF",
            ),
            (
                json!({"xCustom": {"D\u{1b}": "v"}}),
                "/xCustom/D\u{1b}",
                "U+001B",
            ),
        ] {
            let Err(ExportError::Unrepresentable(message)) =
                export(&policy, Format::Mobileconfig, &Profile::default())
            else {
                panic!("{policy} was exported");
            };
            assert!(
                message.contains(pointer) && message.contains(code),
                "{message}"
            );
        }
        let profile = Profile {
            organization: "Acme\u{1}".into(),
            ..Profile::default()
        };
        assert!(export(&policy(), Format::Mobileconfig, &profile).is_err());
        // Tab, LF and CR are XML and read back as they were.
        let fine = json!({"companyAnnouncements": ["a\tb\nc\rd"]});
        let (text, _) = export(&fine, Format::Mobileconfig, &Profile::default()).expect("export");
        assert_eq!(forced(&text), fine);
    }

    #[test]
    fn invalid_policies_are_refused() {
        let bad = json!({"cleanupPeriodDays": "thirty"});
        for format in [Format::Mobileconfig, Format::Reg, Format::Ps1, Format::Json] {
            assert!(matches!(
                export(&bad, format, &Profile::default()),
                Err(ExportError::Invalid(_))
            ));
        }
    }

    #[test]
    fn registry_and_script_hold_the_same_document() {
        let (reg_text, _) = export(&policy(), Format::Reg, &Profile::default()).expect("reg");
        assert!(reg_text.is_ascii());
        let line = reg_text
            .lines()
            .find(|l| l.starts_with("\"Settings\"="))
            .expect("value line");
        let quoted = &line["\"Settings\"=\"".len()..line.len() - 1];
        let json = quoted.replace("\\\"", "\"").replace("\\\\", "\\");
        assert_eq!(
            serde_json::from_str::<Value>(&json).expect("json"),
            policy()
        );
        let (script, _) = export(&policy(), Format::Ps1, &Profile::default()).expect("ps1");
        let body = script
            .split("@'\r\n")
            .nth(1)
            .and_then(|rest| rest.split("\r\n'@").next())
            .expect("here-string");
        assert_eq!(serde_json::from_str::<Value>(body).expect("json"), policy());
    }
}
