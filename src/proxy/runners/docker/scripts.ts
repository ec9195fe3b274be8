// The constant shell scripts the docker runner runs inside a sidecar. Request data never becomes
// part of a script: it only arrives as positional parameters (`sh -c SCRIPT $0 $1 …`), so
// quoting cannot be broken by a tool name, an argument or an exec id (reference §8.1).
//
// Where an exec keeps its pgid: `$HOME/.aifo-exec/<ExecId>/pgid` (protocol.md "Execution"),
// falling back to `${TMPDIR:-/tmp}/.aifo-exec-<uid>/<ExecId>` when HOME is not writable. Both
// scripts below resolve the directory with the same rule, so a signal always finds the pgid the
// wrapper wrote (the reference lost signals after its /tmp fallback, §8.17).

/** `$0` of every script here, as it shows in `ps` inside the sidecar. */
export const SCRIPT_ARG0 = 'aifo-exec';

/**
 * `start $line`, with `line` read from /proc/PID/stat, sets `$ws` to the process's start time
 * (field 22), or to nothing when the line is empty. The comm field of our shells has no blank, so fields count from its end.
 */
const START_FN = 'start() { ws=; [ $# -ge 22 ] && { shift 21; ws=$1; }; }';

/** The two candidate bases, in order; `$b` holds the chosen one. */
const BASES = '"${HOME:-/home/coder}/.aifo-exec" "${TMPDIR:-/tmp}/.aifo-exec-$(id -u)"';

/**
 * `sh -c EXEC_WRAPPER aifo-exec EXECID TOOL ARGS…`
 *
 * 1. Makes the exec directory; a trap removes it on every way out (no `set -e`: the reference's
 *    `set -e` skipped its cleanup whenever the tool failed, §8.17).
 * 2. Runs the tool under `setsid` in the foreground. The wrapper's children are never process
 *    group leaders (no job control in `sh -c`), so util-linux setsid calls setsid(2) without
 *    forking; the new session's leader is a tiny shell that writes its own `$$` (pid == pgid by
 *    construction, §8.16) and then execs the tool with stderr joined to stdout. Foreground, not
 *    `&`: POSIX makes a non-interactive shell start background jobs with SIGINT ignored, and an
 *    ignored signal cannot be reset by the tool's shell, so INT would never reach it.
 * 3. Waits until the whole group is gone (a grandchild may outlive the leader), then exits with
 *    the leader's status: the tool's code, or 128+N after a death by signal N. The exec ending
 *    therefore means "the process group is gone" (STYLE.md "Termination").
 * No login shell: profiles would reset PATH and the sidecar's environment (§8.15).
 */
export const EXEC_WRAPPER = [
  'id=$1; shift',
  `for b in ${BASES}; do mkdir -p -- "$b/$id" 2>/dev/null && break; b=; done`,
  'if [ -z "$b" ]; then echo "aifo-exec: cannot create an exec directory under $HOME or ${TMPDIR:-/tmp}" >&2; exit 126; fi',
  'd=$b/$id',
  `trap 'rm -rf -- "$d"' EXIT`,
  // Which proxy started this exec, and this wrapper's pid and start time, so that a proxy
  // starting later can tell a live orphan from a stale directory (ORPHAN_LIST_SCRIPT). Read
  // without a fork: `start` takes field 22 of /proc/$$/stat. The tool never sees AIFO_EXEC_OWNER.
  `${START_FN}`,
  'if [ -n "${AIFO_EXEC_OWNER:-}" ]; then st=; read -r st < /proc/$$/stat; start $st; printf \'%s %s %s\\n\' "$$" "${ws:-?}" "$AIFO_EXEC_OWNER" > "$d/owner"; fi',
  'unset AIFO_EXEC_OWNER',
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'if ! command -v setsid >/dev/null 2>&1; then echo "aifo-exec: setsid not found in this sidecar (install util-linux)" >&2; exit 126; fi',
  `setsid /bin/sh -c 'echo $$ > "$1/pgid.tmp" && mv -f -- "$1/pgid.tmp" "$1/pgid"; shift; exec "$@"' aifo-leader "$d" "$@" 2>&1`,
  'rc=$?',
  'pg=; [ -r "$d/pgid" ] && read -r pg < "$d/pgid"',
  'case $pg in ""|*[!0-9]*) ;; *) while kill -0 "-$pg" 2>/dev/null; do sleep 0.05; done ;; esac',
  'exit $rc',
].join('\n');

/**
 * Group addressing is `kill -SIG -PGID`, the one spelling dash, bash and busybox sh all accept:
 * dash needs `--` before a negative pid after `-s SIG`, and busybox takes `--` for a pid (it
 * then reports an error after signalling, which would invite a second delivery).
 *
 * `sh -c GROUP_SCRIPT aifo-exec EXECID SIG [PGID]` — SIG is INT, TERM, HUP, KILL or `0` (is the
 * group alive?). Prints the pgid it used; exit 0 when the group exists (and got the signal),
 * 1 when it is gone, 2 when no pgid was ever recorded for the exec id, 3 for a bad SIG.
 * A pgid not yet written (signal right after start) is waited for briefly while the exec
 * directory exists.
 */
export const GROUP_SCRIPT = [
  'id=$1; sig=$2; pg=${3:-}',
  'case $sig in INT|TERM|HUP|KILL|0) ;; *) exit 3 ;; esac',
  'if [ -z "$pg" ]; then',
  `  for b in ${BASES}; do`,
  '    n=0; while [ -d "$b/$id" ] && [ ! -s "$b/$id/pgid" ] && [ $n -lt 100 ]; do sleep 0.02; n=$((n+1)); done',
  '    if [ -s "$b/$id/pgid" ]; then read -r pg < "$b/$id/pgid"; break; fi',
  '  done',
  'fi',
  'case $pg in ""|*[!0-9]*) exit 2 ;; esac',
  'echo "$pg"',
  'kill "-$sig" "-$pg" 2>/dev/null || exit 1',
].join('\n');

/**
 * `sh -c ORPHAN_LIST_SCRIPT aifo-exec` — one line `EXECID PGID OWNER…` per exec whose wrapper
 * still runs (same pid and start time as it recorded), OWNER as the proxy passed it in
 * AIFO_EXEC_OWNER. A proxy starting on this sidecar stops the groups of owners that are gone
 * (runners/docker.ts reapDockerOrphans). Directories of dead wrappers are not listed: their pgid
 * may belong to someone else by now (a restarted container counts pids from 1 again).
 */
export const ORPHAN_LIST_SCRIPT = [
  START_FN,
  `for b in ${BASES}; do`,
  '  for d in "$b"/*/; do',
  '    [ -s "$d/owner" ] && [ -s "$d/pgid" ] || continue',
  '    o=; pg=; st=; read -r o < "$d/owner"; read -r pg < "$d/pgid"',
  '    set -f; set -- $o; set +f; [ $# -ge 3 ] || continue',
  '    wp=$1; wstart=$2; shift 2',
  '    case $wp$pg in ""|*[!0-9]*) continue ;; esac',
  '    [ -r "/proc/$wp/stat" ] && read -r st < "/proc/$wp/stat"; start $st',
  '    [ -n "$ws" ] && [ "$ws" = "$wstart" ] || continue',
  '    id=${d%/}; id=${id##*/}',
  '    printf \'%s %s %s\\n\' "$id" "$pg" "$*"',
  '  done',
  'done',
].join('\n');

/** `sh -c PROBE_SCRIPT aifo-exec TOOL` — exit 0 when TOOL is on the sidecar's PATH. */
export const PROBE_SCRIPT = 'command -v -- "$1" >/dev/null 2>&1';
