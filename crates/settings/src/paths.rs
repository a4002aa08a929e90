//! Where each platform keeps Claude Code's settings. The paths are data (one table per
//! platform), not constants scattered through the code.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// The operating systems Claude Code distinguishes for managed settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    /// The platform this binary was built for (WSL counts as Linux, as in Claude Code).
    pub const fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }
}

/// One platform's row: where the managed file lives, which OS policy store it has, and the
/// legacy locations Claude Code no longer reads.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PlatformPaths {
    /// Directory holding `managed-settings.json`, `managed-settings.d/` and `managed-mcp.json`.
    pub managed_dir: &'static str,
    /// The OS policy store Claude Code reads ahead of the file, described for people.
    pub policy_store: Option<&'static str>,
    /// Files older Claude Code versions read and 2.1.330 ignores.
    pub legacy_files: &'static [LegacyFile],
}

/// A managed-settings location an older Claude Code read.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LegacyFile {
    pub path: &'static str,
    pub why: &'static str,
}

const LINUX: PlatformPaths = PlatformPaths {
    managed_dir: "/etc/claude-code",
    policy_store: None,
    legacy_files: &[],
};

const MACOS: PlatformPaths = PlatformPaths {
    managed_dir: "/Library/Application Support/ClaudeCode",
    policy_store: Some(
        "managed preferences domain com.anthropic.claudecode (configuration profile)",
    ),
    legacy_files: &[],
};

const WINDOWS: PlatformPaths = PlatformPaths {
    managed_dir: r"C:\Program Files\ClaudeCode",
    policy_store: Some(r"registry HKLM\SOFTWARE\Policies\ClaudeCode, value Settings"),
    legacy_files: &[LegacyFile {
        path: r"C:\ProgramData\ClaudeCode\managed-settings.json",
        why: "deprecated in 2.0.58 and no longer read since Claude Code 2.1.75; move its keys to C:\\Program Files\\ClaudeCode\\managed-settings.json",
    }],
};

/// The table row for `platform`.
pub const fn platform_paths(platform: Platform) -> PlatformPaths {
    match platform {
        Platform::Linux => LINUX,
        Platform::MacOs => MACOS,
        Platform::Windows => WINDOWS,
    }
}

pub const MANAGED_FILE_NAME: &str = "managed-settings.json";
pub const DROP_IN_DIR_NAME: &str = "managed-settings.d";
pub const MANAGED_MCP_FILE_NAME: &str = "managed-mcp.json";
/// Where the settings helper keeps the previous versions of the files it replaces.
pub const BACKUP_DIR_NAME: &str = ".ccscope-backups";
/// The macOS managed-preferences file for the Claude Code domain (device scope).
pub const MACOS_MANAGED_PLIST: &str = "/Library/Managed Preferences/com.anthropic.claudecode.plist";

/// Environment variable that moves every managed path under a scratch root. Honoured only by
/// builds with the `test-hooks` feature (the test suites'), so a shipped helper can never be
/// pointed elsewhere, debug build or not.
pub const TEST_ROOT_ENV: &str = "CCSCOPE_TEST_MANAGED_ROOT";

/// Whether this build has the test hooks (the `test-hooks` feature): the scratch root here,
/// the helper's stall points.
pub const TEST_HOOKS: bool = cfg!(feature = "test-hooks");

/// The scratch root tests selected, if this build has the test hooks and one was set.
pub fn test_root() -> Option<PathBuf> {
    if cfg!(feature = "test-hooks") {
        std::env::var_os(TEST_ROOT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    } else {
        None
    }
}

/// The concrete managed locations on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct Layout {
    pub platform: Platform,
    pub managed_dir: PathBuf,
    pub legacy_files: Vec<(PathBuf, &'static str)>,
    /// Whether this layout was moved under a test root (OS policy stores are then not read).
    pub under_test_root: bool,
}

impl Layout {
    /// This machine's layout; a test build honours [`TEST_ROOT_ENV`].
    pub fn system() -> Layout {
        match test_root() {
            Some(root) => Layout::under_root(Platform::current(), &root),
            None => Layout::for_platform(Platform::current()),
        }
    }

    pub fn for_platform(platform: Platform) -> Layout {
        let row = platform_paths(platform);
        Layout {
            platform,
            managed_dir: PathBuf::from(row.managed_dir),
            legacy_files: row
                .legacy_files
                .iter()
                .map(|l| (PathBuf::from(l.path), l.why))
                .collect(),
            under_test_root: false,
        }
    }

    /// The platform's layout re-rooted under `root` (for tests).
    pub fn under_root(platform: Platform, root: &Path) -> Layout {
        let base = Layout::for_platform(platform);
        Layout {
            platform,
            managed_dir: reroot(root, &base.managed_dir),
            legacy_files: base
                .legacy_files
                .into_iter()
                .map(|(p, why)| (reroot(root, &p), why))
                .collect(),
            under_test_root: true,
        }
    }

    pub fn managed_file(&self) -> PathBuf {
        self.managed_dir.join(MANAGED_FILE_NAME)
    }

    pub fn drop_in_dir(&self) -> PathBuf {
        self.managed_dir.join(DROP_IN_DIR_NAME)
    }

    pub fn managed_mcp_file(&self) -> PathBuf {
        self.managed_dir.join(MANAGED_MCP_FILE_NAME)
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.managed_dir.join(BACKUP_DIR_NAME)
    }
}

fn reroot(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    for component in path.components() {
        if let Component::Normal(part) = component {
            out.push(part);
        }
    }
    out
}

/// The user's own settings file: `$CLAUDE_CONFIG_DIR/settings.json` or `~/.claude/settings.json`.
pub fn user_settings_file() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("settings.json"));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".claude").join("settings.json"))
}

/// A project's shared settings file.
pub fn project_settings_file(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.json")
}

/// A project's local (not committed) settings file.
pub fn local_settings_file(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.local.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_its_documented_directory() {
        assert_eq!(
            platform_paths(Platform::Linux).managed_dir,
            "/etc/claude-code"
        );
        assert_eq!(
            platform_paths(Platform::MacOs).managed_dir,
            "/Library/Application Support/ClaudeCode"
        );
        assert_eq!(
            platform_paths(Platform::Windows).managed_dir,
            r"C:\Program Files\ClaudeCode"
        );
        assert!(platform_paths(Platform::Linux).policy_store.is_none());
        assert_eq!(platform_paths(Platform::Windows).legacy_files.len(), 1);
    }

    #[test]
    fn a_test_root_keeps_the_relative_layout() {
        let layout = Layout::under_root(Platform::Linux, Path::new("/tmp/x"));
        assert_eq!(
            layout.managed_file(),
            Path::new("/tmp/x/etc/claude-code/managed-settings.json")
        );
        assert_eq!(
            layout.drop_in_dir(),
            Path::new("/tmp/x/etc/claude-code/managed-settings.d")
        );
        assert_eq!(
            layout.backup_dir(),
            Path::new("/tmp/x/etc/claude-code/.ccscope-backups")
        );
        let mac = Layout::under_root(Platform::MacOs, Path::new("/r"));
        assert_eq!(
            mac.managed_dir,
            Path::new("/r/Library/Application Support/ClaudeCode")
        );
    }

    #[test]
    fn project_files_sit_in_dot_claude() {
        let p = Path::new("/work/repo");
        assert_eq!(
            project_settings_file(p),
            Path::new("/work/repo/.claude/settings.json")
        );
        assert_eq!(
            local_settings_file(p),
            Path::new("/work/repo/.claude/settings.local.json")
        );
    }
}
