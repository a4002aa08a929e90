#!/usr/bin/env python3
"""Regenerates crates/settings/data/claude-code-keys.json from the reference's section 10
(the 2.1.330 binary's settings keys). Run: python3 scripts/extract-settings-keys.py REFERENCE.md"""
import json, re, sys

text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## 10. All settings keys", 1)[1].split("\n## 11.", 1)[0]
keys = []
for line in section.splitlines():
    if not line.startswith("| `"):
        continue
    cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    key, typ, scope, in_store, note = cells
    key = key.strip("`")
    managed_only = scope == "Managed" or "managed-only" in note
    keys.append({
        "key": key,
        "type": typ,
        "scope": None if scope == "—" else scope,
        "schemastore": in_store == "yes",
        "managed_only": managed_only,
        "internal": "@internal" in note,
        "note": note.split(" — ")[0],
    })
# Section 8 lists the managed-only keys, from the docs and from the binary's own descriptions;
# the table above does not mark all of them.
listed = next(l for l in text.splitlines() if l.startswith("From docs (managed-settings.md"))
managed = set(re.findall(r"`([A-Za-z.]+)`", listed))
for k in keys:
    k["managed_only"] = k["managed_only"] or k["key"] in managed
json.dump({"source": "reference/claude-code-telemetry.md section 10 (Claude Code 2.1.330)", "keys": keys},
          open("crates/settings/data/claude-code-keys.json", "w", encoding="utf-8"), indent=1, ensure_ascii=False)
print(len(keys), "keys")
