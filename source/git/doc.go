// Package git is the git source: it turns a repository's history into
// records (SPEC §6).
//
// # What it records
//
// For the repository and, recursively, every initialised submodule:
//
//   - one git_commit record per commit, oldest first: target "." for the
//     top repository or the submodule's path ("base", "domains/marketing"),
//     timestamp the committer date, actor the author's e-mail (or name when
//     there is none), and in the context the hash, parents, author and
//     committer with their dates, the message (subject and body), the
//     signature status (git's %G? letter, "signed", signer and key), and
//     the files changed with lines added and removed, binary flags,
//     renames (old_path), the size in bytes of the content after the
//     change (size; absent for a deletion) and submodule pointers
//     (gitlink: the change moved a submodule, it is no content). Merges
//     list no files: git log shows no diff for them. Past Config.MaxFiles files the list is cut (files_truncated)
//     but the totals still count every file;
//   - one git_authors record per repository and run that recorded new
//     commits: each author's commits, lines added and removed, first and
//     last commit, over the commits the run walked;
//   - one git_refs record per repository when its branches, tags or HEAD
//     differ from the last git_refs record;
//   - one git_blame record per blamed file when its attribution differs
//     from the last one: lines per author and per age (relative to the
//     blamed revision's commit date);
//   - a git_warning record (severity warning) when a submodule's history
//     cannot be read; a broken top repository is an error instead.
//
// Text that is not valid UTF-8 (names, messages, paths) is kept
// losslessly in the escaped form of Escape, flagged "<field>_escaped".
// Git itself ends a message at its first NUL byte.
//
// # Incremental
//
// Before walking a repository the source reads, from the trail, the
// hashes of the commits already recorded for that target (a Recorded,
// usually the store) into a set of fixed-size keys (about 40 bytes per
// commit, so 100,000 commits cost about 4 MB and one linear query per
// run). A commit in the set is walked (for reports, see Config.OnCommit)
// but not recorded again: the trail never holds the same commit twice.
//
// # Why the git program, not a library
//
// The source runs one `git log -z --raw --numstat` process per repository with a
// NUL-separated format and parses its output incrementally from the pipe:
// memory stays flat whatever the history length. The line counts of
// --numstat come from git's own diff machinery (xdiff), which is what
// users compare against; the pure-Go implementation (go-git) computes the
// same counts several times slower, because it diffs in Go with its own
// object cache, and it reads neither every repository format (partial
// clones, newer index or pack features) nor signatures. The git process
// also works on another core while this process parses and appends.
// Sizes come from one `git cat-file --batch-check` per repository, asked
// for the objects of 256 commits at a time. Blame uses
// `git blame --incremental`, refs `git for-each-ref`.
//
// Signature checks (%G?) cost nothing for unsigned commits; for a signed
// one git runs gpg or ssh-keygen, so Config.NoSignatures exists for
// histories where most commits are signed. When the repository sets no
// gpg.ssh.allowedSignersFile the source supplies an empty one, so that
// SSH-signed commits report U (good signature, unknown signer) instead of
// git's N.
package git
