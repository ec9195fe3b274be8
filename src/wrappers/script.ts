// The wrapper script as text, so that writeShimDir() works the same from build/ (tsc), from the
// esbuild bundle dist/aifo.mjs and from a Nix store path, with no file to find next to it at run
// time. src/wrappers/sh stays the readable, runnable source (and ships in the package);
// test/wrappers/script.test.ts fails when the two differ by a single byte.
// String.raw keeps backslashes as written; the script contains no dollar-brace and no backquote,
// the only two things a template literal would still interpret.

/** Placeholder for the absolute path of the shell that runs the wrapper (its shebang). */
export const INTERPRETER_PLACEHOLDER = '@AIFO_SH_INTERPRETER@';
/** Placeholder for the absolute path of the real shell the wrapper execs. */
export const REAL_SHELL_PLACEHOLDER = '@AIFO_REAL_SHELL@';

export const WRAPPER_SCRIPT = String.raw`#!@AIFO_SH_INTERPRETER@
# aifo-toolchain shell wrapper: /opt/aifo/bin/sh, bash and dash (shared/protocol.md, "The agent
# side"). writeShimDir() in layout.ts fills the two placeholders with absolute paths: the shell
# that runs this script (the real sh: bash named "sh" and dash read no startup files here, so a
# BASH_ENV is not sourced twice) and the real shell this wrapper stands for.
#
# Keep it POSIX (dash, bash, busybox ash), with no dollar-brace and no backquote: script.ts holds
# this same text as a String.raw template, and a test compares the two byte for byte.

aifo_real='@AIFO_REAL_SHELL@'

# The real shell is named by absolute path only: PATH starts with /opt/aifo/bin, so a PATH
# lookup would find this wrapper again.
case $aifo_real in
  /*) ;;
  *) echo "aifo wrapper: no real shell configured (unfilled placeholder; use writeShimDir)" >&2
     exit 127 ;;
esac

if [ "$AIFO_SH_WRAP_DISABLE" = 1 ]; then
  exec "$aifo_real" "$@"
fi

# One pass over the arguments, rotating each to the end of "$@" (the only array POSIX sh has),
# to find the command string of -c. Options are read as sh and bash read them: clusters of
# -/+ letters (-c, -lc, -ec, -l -c, -c -e), -o/+o and bash's -O/+O take the next word, bash's
# long options come first (--rcfile and --init-file take a word), "--" or "-" ends them. The
# first operand is the command string with -c, else a script file (or, with -s, just $1).
aifo_n=$#
aifo_state=opts # opts, then operand (after -- or -), then rest (after the first operand)
aifo_skip=0     # words still to pass over as the values of -o, -O, --rcfile
aifo_c=0
aifo_i=0
aifo_s=0
aifo_operand=0
while [ "$aifo_n" -gt 0 ]; do
  aifo_a=$1
  shift
  aifo_n=$((aifo_n - 1))
  aifo_first=0
  if [ "$aifo_skip" -gt 0 ]; then
    aifo_skip=$((aifo_skip - 1))
  elif [ "$aifo_state" = opts ]; then
    case $aifo_a in
      --|-) aifo_state=operand ;;
      --rcfile|--init-file) aifo_skip=1 ;;
      --*) ;;
      [-+]?*)
        case $aifo_a in -*c*) aifo_c=1 ;; esac
        case $aifo_a in -*i*) aifo_i=1 ;; esac
        case $aifo_a in -*s*) aifo_s=1 ;; esac
        case $aifo_a in ?*[oO]*[oO]*) aifo_skip=2 ;; ?*[oO]*) aifo_skip=1 ;; esac ;;
      *) aifo_first=1 ;;
    esac
  elif [ "$aifo_state" = operand ]; then
    aifo_first=1
  fi
  if [ "$aifo_first" = 1 ]; then
    aifo_state=rest
    aifo_operand=1
    # protocol.md: run "CMD; exit" so the shell ends with the command's status. The separator
    # is a newline, not ";": "CMD; exit" is a syntax error after a trailing "&" and ends no
    # here-document whose delimiter is the last line, where a newline works in every shell.
    if [ "$aifo_c" = 1 ]; then
      aifo_a="$aifo_a
exit"
    fi
  fi
  set -- "$@" "$aifo_a"
done

if [ "$aifo_c" = 1 ]; then
  exec "$aifo_real" "$@"
fi

# An interactive shell (-i, or commands read from a terminal on stdin) on the terminal where a
# tool exec just ran (aifo-shim's markers $HOME/.aifo-exec/<id>/tty and no_shell_on_tty, newer
# than AIFO_SH_RECENT_SECS) is the stray shell an agent would leave behind: end it at once.
# Only interactive shells: a -c command or a script on that terminal always runs (the Rust
# wrapper swallowed those too, reference section 8 item 36). Any doubt (no tty, no date or
# stat) runs the shell.
aifo_interactive=0
if [ "$aifo_i" = 1 ]; then
  aifo_interactive=1
elif [ "$aifo_operand" = 0 ] || [ "$aifo_s" = 1 ]; then
  if [ -t 0 ]; then aifo_interactive=1; fi
fi
if [ "$aifo_interactive" = 1 ] && [ -n "$HOME" ] && [ -d "$HOME/.aifo-exec" ]; then
  aifo_tty=$(tty 2>/dev/null) || aifo_tty=
  aifo_now=$(date +%s 2>/dev/null) || aifo_now=
  case $AIFO_SH_RECENT_SECS in
    ''|*[!0-9]*|??????????*) aifo_recent=10 ;;
    *) aifo_recent=$AIFO_SH_RECENT_SECS ;;
  esac
  case $aifo_now in ''|*[!0-9]*) aifo_tty= ;; esac
  case $aifo_tty in
    /*)
      for aifo_d in "$HOME"/.aifo-exec/*/; do
        [ -f "$aifo_d/no_shell_on_tty" ] && [ -f "$aifo_d/tty" ] || continue
        aifo_t=
        IFS= read -r aifo_t 2>/dev/null <"$aifo_d/tty"
        [ "$aifo_t" = "$aifo_tty" ] || continue
        aifo_m=$(stat -c %Y "$aifo_d/no_shell_on_tty" 2>/dev/null ||
          stat -f %m "$aifo_d/no_shell_on_tty" 2>/dev/null) || continue
        case $aifo_m in ''|*[!0-9]*) continue ;; esac
        if [ $((aifo_now - aifo_m)) -le "$aifo_recent" ]; then
          exit 0
        fi
      done ;;
  esac
fi

exec "$aifo_real" "$@"
`;
