#!/usr/bin/env python3
"""Reference banned-words checker: the oracle the Go scanner is tested against.

It re-implements, in plain Python with PyYAML, the rules of AMI's published
checker (scripts/check_banned_words.py: rglob walk, utf-8 read_text,
splitlines, one hit per word and line, the banned-filename rule with its
timestamp exception) extended to the version-2 YAML files, with the choices
documented in package banned (doc of config.go):

- every entry is compiled with re.IGNORECASE; an entry re refuses is matched
  as case-insensitive literal text;
- scanner.yaml ignores (dirs at any depth incl. the file name, suffixes,
  names) and banned_words.yaml ignored_files exclude a file; a file excluded
  only by ignored dirs that carry directory-specific entries is checked for
  those entries only;
- .git and .audit are never walked.

Usage: oracle.py ROOT [BASE]  -> JSON list of [path, line, kind, dir, entry]
(line 0 for a file name), sorted.
"""
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

import yaml

PATTERNS = "scripts/config/patterns"


def load(root):
    d = Path(root) / PATTERNS
    bw = yaml.safe_load((d / "banned_words.yaml").read_text(encoding="utf-8")) or {}
    sc = {}
    if (d / "scanner.yaml").exists():
        sc = yaml.safe_load((d / "scanner.yaml").read_text(encoding="utf-8")) or {}
    return bw, sc


def uniq(v):
    out = []
    for s in v or []:
        if s and s not in out:
            out.append(s)
    return out


def compile_entry(e):
    try:
        return re.compile(e, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(e), re.IGNORECASE)


def filename_hit(name, patterns):
    lower = name.lower()
    if re.search(r"\d{8,}_\d+", lower):
        return None
    stem = PurePosixPath(name).stem.lower()
    for p in patterns:
        pl = p.lower()
        if pl.startswith(("_", ".")):
            if stem.endswith(pl.lstrip(".")) or lower.endswith(pl):
                return p
        elif pl in lower:
            return p
    return None


def main():
    root = Path(sys.argv[1]).resolve()
    base = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else root
    bw, sc = load(root)
    glob = [(e, compile_entry(e)) for e in uniq(bw.get("global_banned_words"))]
    dirs = {}
    for k, v in (bw.get("directory_specific_banned_words") or {}).items():
        k = str(k).strip("/")
        dirs.setdefault(k, [])
        for e in uniq(v):
            if e not in [x for x, _ in dirs[k]]:
                dirs[k].append((e, compile_entry(e)))
    dir_comps = {c for k in dirs for c in k.split("/")}
    fnames = uniq(bw.get("banned_filename_patterns"))
    ignored_files = set(bw.get("ignored_files") or [])
    ign_dirs = set(sc.get("ignored_dirs") or [])
    ign_suf = [s for s in (sc.get("ignored_suffixes") or []) if s]
    ign_names = set(sc.get("ignored_names") or [])

    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [n for n in dirnames if n not in (".git", ".audit")
                       and not os.path.islink(os.path.join(dirpath, n))]
        for fn in filenames:
            full = Path(dirpath) / fn
            if not full.is_file():
                continue
            rel = full.relative_to(root).as_posix()
            if rel in ignored_files or fn in ign_names or any(fn.endswith(s) for s in ign_suf):
                continue
            parts = rel.split("/")
            dir_only = False
            skip = False
            for part in parts:
                if part in ign_dirs:
                    if part not in dir_comps:
                        skip = True
                    dir_only = True
            if skip:
                continue
            if not dir_only:
                hit = filename_hit(fn, fnames)
                if hit:
                    out.append([rel, 0, "filename", "", hit])
            try:
                if full.stat().st_size > 64 << 20:
                    continue
                text = full.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            lines = text.splitlines()
            pats = [] if dir_only else [("global", "", e, r) for e, r in glob]
            for k, ps in dirs.items():
                if rel.startswith(k + "/") or ("/" + k + "/") in rel:
                    pats += [("directory", k, e, r) for e, r in ps]
            for kind, k, e, r in pats:
                for i, line in enumerate(lines, 1):
                    if r.search(line):
                        out.append([rel, i, kind, k, e])
    out.sort()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
