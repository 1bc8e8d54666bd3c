#!/usr/bin/env bash
# Compares "ami-audit security --history" with "gitleaks git" (v8.30.1,
# built from the Go module proxy into a temporary directory, not into this
# module) on the same repository, side by side: wall time, processor time
# and peak resident memory of each, the median of RUNS runs, and the two
# sets of findings (commit, file, rule, line) on gitleaks' own rules.
#
#   scripts/bench-secrets.sh REPO [RUNS]
#
# REPO is a git work tree (for instance a clone of gitleaks' repository).
# ami-audit also scans the working tree and submodules and applies its own
# rules; the comparison counts those findings apart. Needs GNU time
# (/usr/bin/time) and python3.
set -euo pipefail
repo=$(cd "${1:?usage: scripts/bench-secrets.sh REPO [RUNS]}" && pwd)
runs=${2:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

GOBIN="$tmp/bin" go install github.com/zricethezav/gitleaks/v8@v8.30.1
go build -o "$tmp/bin/ami-audit" ./cmd/ami-audit
gitleaks="$tmp/bin/gitleaks"
ami="$tmp/bin/ami-audit"

measure() { # name, command...: appends "wall cpu rss_kb" to $tmp/name.times
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/$name.one" "$@" >/dev/null 2>"$tmp/$name.err" || {
		cat "$tmp/$name.err" >&2
		return 1
	}
	awk '{print $1, $2 + $3, $4}' "$tmp/$name.one" >>"$tmp/$name.times"
}

sec=(security --history --skip=dependencies,permissions,patterns --format=json --output="$tmp/ami.json" .)
for i in $(seq "$runs"); do
	(cd "$repo" && measure gitleaks "$gitleaks" git . --exit-code 0 --report-format json --report-path "$tmp/gitleaks.json")
	rm -rf "$tmp/trail"
	# a new trail: every finding appended; then a re-run, which appends
	# nothing; then the history alone (no working-tree scan)
	(cd "$repo" && measure ami "$ami" --audit-dir "$tmp/trail" -q "${sec[@]}")
	(cd "$repo" && measure ami-rerun "$ami" --audit-dir "$tmp/trail" -q "${sec[@]}")
	(cd "$repo" && measure ami-history "$ami" --audit-dir "$tmp/trail" -q "${sec[@]}" --skip=secrets)
done
"$ami" --audit-dir "$tmp/trail" query --action=security_finding --limit 0 --format=jsonl >"$tmp/findings.jsonl"

python3 - "$tmp" "$runs" <<'EOF'
import json, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
def stats(name):
    rows = [list(map(float, l.split())) for l in open(f"{tmp}/{name}.times")]
    return [statistics.median(c) for c in zip(*rows)]
g = stats("gitleaks")
print(f"median of {runs} runs                         wall s   cpu s  peak RSS MB  (ratio to gitleaks: wall, cpu, RSS)")
print(f"gitleaks git                                {g[0]:6.2f}  {g[1]:6.2f}  {g[2]/1024:8.1f}")
for name, label in (("ami", "security --history (new trail)"), ("ami-rerun", "security --history (re-run)"),
                    ("ami-history", "security --history --skip=secrets")):
    a = stats(name)
    print(f"{label:42s}  {a[0]:6.2f}  {a[1]:6.2f}  {a[2]/1024:8.1f}     {a[0]/g[0]:.2f} {a[1]/g[1]:.2f} {a[2]/g[2]:.2f}")
gl = {(f["Commit"], f["File"], f["RuleID"], f["StartLine"]) for f in json.load(open(f"{tmp}/gitleaks.json"))}
# ami-audit's own rules (package secrets) and its private-key-file finding
own = {"url-credentials", "url-password-parameter", "authorization-header", "password-assignment",
       "note-private-key", "private-key-block", "private-key-file"}
ours, extra = set(), 0
for line in open(f"{tmp}/findings.jsonl"):
    c = json.loads(line)["context"]
    if c.get("check") != "secrets_history" or c.get("repo") != ".":
        continue
    key = (c["commit"], c["file"], c["rule"], c.get("line", 0))
    ours.add(key)
print(f"gitleaks findings: {len(gl)}; ami-audit history findings in the top repository: {len(ours)}")
only_gl = gl - ours
# findings of ami-audit's own rules (and private key files) are extra
from_own = {k for k in ours - gl if k[2] in own}
only_ours = ours - gl - from_own
print(f"same: {len(gl & ours)}; only gitleaks: {len(only_gl)}; only ami-audit, gitleaks' rules: {len(only_ours)}; ami-audit's own rules: {len(from_own)}")
for k in sorted(only_gl)[:10]: print("  only gitleaks:", k)
for k in sorted(only_ours)[:10]: print("  only ami-audit:", k)
EOF
