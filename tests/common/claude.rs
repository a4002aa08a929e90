//! Where the real Claude Code CLI is for the tests that run it.

use std::path::{Path, PathBuf};

/// The native `claude` binary: `CCSCOPE_CLAUDE_BIN`, or the npm install under tests/claude-code.
pub fn claude_binary() -> PathBuf {
    if let Ok(path) = std::env::var("CCSCOPE_CLAUDE_BIN") {
        return PathBuf::from(path);
    }
    let scope =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/claude-code/node_modules/@anthropic-ai");
    let found = std::fs::read_dir(&scope).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("claude"))
            .find(|p| {
                p.is_file()
                    && p.parent()
                        .is_some_and(|d| d.to_string_lossy().contains("claude-code-"))
            })
    });
    found.unwrap_or_else(|| {
        panic!(
            "the Claude Code CLI is not installed under {}: run scripts/setup.sh --test (npm install), or set CCSCOPE_CLAUDE_BIN",
            scope.display()
        )
    })
}

/// `claude -p PROMPT` in `project` with a fresh `home`, offline against the Messages API stub at
/// `api`: everything but telemetry configured (the caller adds that, or leaves it to settings).
pub fn claude_command(
    prompt: &str,
    project: &Path,
    home: &Path,
    api: std::net::SocketAddr,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(claude_binary());
    command
        .args([
            "-p",
            prompt,
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
        ])
        .current_dir(project)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", format!("http://{api}"))
        .env("ANTHROPIC_API_KEY", "sk-ant-test-key")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .kill_on_drop(true);
    command
}
