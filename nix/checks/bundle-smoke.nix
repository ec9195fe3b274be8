# Sandboxed smoke test of the installed bundles: the shim reached through a `cargo` symlink must
# see tool=cargo (argv[1] survives the direct shebang), fail with exit 86 and one line when it has
# no proxy URL, and fail with 86 when the proxy is unreachable; `aifo-shim TOOL` names the tool
# by argument; `aifo --help` runs; the sh wrapper runs `-c`. Needs no network and no engine: the
# "unreachable proxy" is a Unix socket path that does not exist.
{
  runCommand,
  # ./shim.nix, ./proxy.nix and ./aifo-root.nix outputs.
  shim,
  proxy,
  aifoRoot,
}:

runCommand "aifo-bundle-smoke" { } ''
  set -u
  fail() { echo "bundle-smoke: $*" >&2; exit 1; }
  export HOME="$TMPDIR/home"
  mkdir -p "$HOME" bin
  ln -s ${shim}/bin/aifo-shim bin/aifo-shim
  ln -s aifo-shim bin/cargo

  # 1. No AIFO_TOOLEEXEC_URL: one line on stderr, exit 86 (protocol.md, "The shim").
  rc=0
  env -u AIFO_TOOLEEXEC_URL -u AIFO_TOOLEEXEC_TOKEN ./bin/cargo build 2> err.txt || rc=$?
  [ "$rc" = 86 ] || fail "cargo without AIFO_TOOLEEXEC_URL exited $rc, expected 86"
  [ "$(wc -l < err.txt)" = 1 ] || fail "expected one stderr line, got: $(cat err.txt)"

  # 2. Through the symlink the verbose line names cargo, then a dead proxy is exit 86.
  for exe in ./bin/cargo ${aifoRoot}/opt/aifo/bin/cargo; do
    rc=0
    AIFO_TOOLEEXEC_URL="unix://$TMPDIR/no-such-proxy.sock" AIFO_TOOLEEXEC_TOKEN=0123abcd-not-in-logs \
      AIFO_TOOLCHAIN_VERBOSE=1 "$exe" build --release 2> err.txt || rc=$?
    [ "$rc" = 86 ] || fail "$exe against a missing socket exited $rc, expected 86"
    grep -q '^aifo-shim: tool=cargo ' err.txt || fail "$exe did not report tool=cargo: $(cat err.txt)"
    if grep -q 0123abcd-not-in-logs err.txt; then fail "$exe printed the token"; fi
  done

  # 3. `aifo-shim TOOL ARGS` takes the tool from its first argument.
  rc=0
  AIFO_TOOLEEXEC_URL="unix://$TMPDIR/no-such-proxy.sock" AIFO_TOOLEEXEC_TOKEN=0123abcd-not-in-logs \
    AIFO_TOOLCHAIN_VERBOSE=1 ./bin/aifo-shim rustc --version 2> err.txt || rc=$?
  [ "$rc" = 86 ] || fail "aifo-shim rustc exited $rc, expected 86"
  grep -q '^aifo-shim: tool=rustc ' err.txt || fail "aifo-shim rustc did not report tool=rustc: $(cat err.txt)"

  # 4. The proxy bundle starts.
  ${proxy}/bin/aifo --help > help.txt || fail "aifo --help failed"
  grep -q proxy help.txt || fail "aifo --help does not mention the proxy command"

  # 5. The sh wrapper runs `-c CMD` through the real shell.
  said="$(${aifoRoot}/opt/aifo/bin/sh -c 'echo wrapped')"
  [ "$said" = wrapped ] || fail "sh wrapper -c printed '$said'"

  touch "$out"
''
