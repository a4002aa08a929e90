#!/usr/bin/env bash
# Checks the installed .deb (run as root by scripts/test.sh after `apt-get install ./ccscope_*.deb`):
# the files are where the app and polkit expect them, `ccscope doctor` passes, and an ordinary
# user's `ccscope settings apply` goes through the real pkexec and polkit (a rule grants the
# test user the action, as an admin's password would) to the installed helper, which writes
# /etc/claude-code/managed-settings.json. The machine's managed settings are put back after.
# Prints "N passed, M failed" last.
set -uo pipefail
passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

work=$(mktemp -d)
chmod 755 "$work"
managed=/etc/claude-code/managed-settings.json
saved=""
[ -f "$managed" ] && saved="$work/saved.json" && cp "$managed" "$saved"
had_dir=0
[ -d /etc/claude-code ] && had_dir=1
rule=/etc/polkit-1/rules.d/49-ccscope-test.rules
cleanup() {
  rm -f "$rule"
  if [ -n "$saved" ]; then cp "$saved" "$managed"; else rm -f "$managed"; fi
  rm -rf /etc/claude-code/.ccscope-backups
  [ "$had_dir" = 1 ] || rmdir /etc/claude-code 2>/dev/null || true
  [ -n "${polkitd_pid:-}" ] && kill "$polkitd_pid" 2>/dev/null
  [ -n "${dbus_pid:-}" ] && kill "$dbus_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check "the app, the CLI and the helper are installed side by side" \
  test -x /usr/bin/ccscope-desktop -a -x /usr/bin/ccscope -a -x /usr/bin/ccscope-settings-helper
check "the polkit action is installed" test -f /usr/share/polkit-1/actions/dev.ccscope.settings-helper.policy
check "a desktop entry and icons are installed" bash -c 'ls /usr/share/applications/*.desktop | xargs grep -l "Exec=ccscope-desktop" >/dev/null && ls /usr/share/icons/hicolor/*/apps/ccscope-desktop.png >/dev/null'
check "ccscope doctor passes and finds the installed helper" bash -c "HOME=$work /usr/bin/ccscope doctor --data-dir $work/data | tee $work/doctor.txt >/dev/null && grep -q 'Settings helper /usr/bin/ccscope-settings-helper' $work/doctor.txt"
check "the installed helper has no test hooks: it refuses a test root instead of honouring it" bash -c "
  mkdir -p $work/root && chmod 755 $work/root
  out=\$(CCSCOPE_TEST_MANAGED_ROOT=$work/root /usr/bin/ccscope-settings-helper restore --backup managed-settings.json.20000101T000000000000000Z)
  echo \"\$out\" | grep -q 'test_root_unsupported' && ! test -e $work/root/etc"

# The real elevation path: system D-Bus + polkitd, and a rule standing in for the admin's password.
# A socket file left behind by a bus that is gone (containers keep /run) refuses connections:
# ask the bus itself, and start a fresh one when nobody answers.
bus_answers() {
  dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1
}
polkit_on_bus() {
  dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q 'boolean true'
}
if ! bus_answers; then
  rm -f /run/dbus/system_bus_socket /run/dbus/pid
  mkdir -p /run/dbus
  dbus_pid=$(dbus-daemon --system --fork --print-pid) || echo "could not start the system D-Bus"
  for _ in $(seq 50); do bus_answers && break; sleep 0.1; done
fi
if ! polkit_on_bus; then
  /usr/lib/polkit-1/polkitd --no-debug >/dev/null 2>&1 &
  polkitd_pid=$!
  for _ in $(seq 100); do polkit_on_bus && break; sleep 0.1; done
fi
polkit_on_bus || echo "polkitd did not come up on the system bus"
mkdir -p "$(dirname "$rule")"
cat > "$rule" <<'RULE'
polkit.addRule(function(action, subject) {
  if (action.id == "dev.ccscope.settings-helper" && subject.user == "nobody") return polkit.Result.YES;
});
RULE
sleep 1
check "polkit knows the action" bash -c "pkaction --action-id dev.ccscope.settings-helper >/dev/null"
cat > "$work/policy.json" <<'JSON'
{"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
 "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com", "OTEL_LOG_USER_PROMPTS": "0"}}
JSON
chmod 644 "$work/policy.json"
check "an ordinary user applies managed settings through pkexec and the installed helper" bash -c "
  cd $work && setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=$work /usr/bin/ccscope settings apply $work/policy.json > $work/apply.txt 2>&1
  code=\$?; cat $work/apply.txt; [ \$code = 0 ] && grep -q '\"OTEL_LOG_USER_PROMPTS\": \"0\"' $managed && [ \"\$(stat -c '%U %a' $managed)\" = 'root 644' ]"
rm -f "$rule"
sleep 1
check "without the grant pkexec refuses and nothing changes" bash -c "
  before=\$(sha256sum $managed)
  echo '{\"model\": \"x\"}' > $work/other.json && chmod 644 $work/other.json
  cd $work && setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=$work /usr/bin/ccscope settings apply $work/other.json > $work/refused.txt 2>&1 </dev/null
  code=\$?; cat $work/refused.txt; [ \$code = 3 ] && [ \"\$(sha256sum $managed)\" = \"\$before\" ]"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
