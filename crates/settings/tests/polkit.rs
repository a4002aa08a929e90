//! The polkit action shipped in the Linux packages names the helper where the app looks for it.

use ccscope_settings::elevate::{INSTALLED_HELPER, POLKIT_ACTION};

const POLICY: &str = include_str!("../../../packaging/linux/dev.ccscope.settings-helper.policy");

#[test]
fn the_polkit_action_matches_the_installed_helper() {
    assert!(POLICY.contains(&format!("<action id=\"{POLKIT_ACTION}\">")));
    assert!(POLICY.contains(&format!(
        "<annotate key=\"org.freedesktop.policykit.exec.path\">{INSTALLED_HELPER}</annotate>"
    )));
    // Every use needs an administrator: never a cached or implicit yes.
    for default in ["allow_any", "allow_inactive", "allow_active"] {
        assert!(
            POLICY.contains(&format!("<{default}>auth_admin</{default}>")),
            "{default}"
        );
    }
}
