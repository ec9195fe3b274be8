#!/usr/bin/env bash
# The Nix part of CI (issue 5), for machines that cannot fetch nixpkgs: nothing is built. It
#   1. parses every .nix file (nix-instantiate --parse),
#   2. evaluates the flake's wiring with `nix flake show` and `nix flake check --no-build`, with
#      the nixpkgs input replaced by the stand-in of checks/nixpkgs-standin (--override-input;
#      flake.lock is left alone, --no-write-lock-file),
#   3. asserts on the evaluated outputs: test/nix/eval-flake.nix (image Env, contents, writable
#      dirs, app programs, dev shell, checks per system, closure guards) and a few `nix eval`s
#      of installables through the flake interface.
# The lock file's structure is held by test/nix/flake-lock.test.ts (node:test, with npm test).
#
# Needs Nix >= 2.8 (Debian 12's nix-bin, installed here when missing and running as root) and git:
# flakes see a git checkout's tracked files only, so run it on a clone or after committing.
# Idempotent: writes only to a temporary directory and, as any evaluation does, the Nix store.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== nix: %s (+%ss)\n' "$1" "$(($(date +%s) - start))"; }
fail() {
  printf 'ci-nix: %s\n' "$*" >&2
  exit 1
}

if ! command -v nix-instantiate >/dev/null 2>&1; then
  step "installing Debian's nix-bin"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "nix is not installed; install it (Debian: apt-get install nix-bin) and rerun"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nix-bin >/dev/null
fi
nix --version

tmp=$(mktemp -d)
# A private store's paths are read-only; make them writable to remove them.
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
# Flakes are experimental in Nix 2.8. No substituters and no registry: nothing may be fetched.
# No build users: nothing is built, and the Debian package's nixbld group may be absent.
export NIX_CONFIG="experimental-features = nix-command flakes
substituters =
build-users-group =
flake-registry = $tmp/registry.json
warn-dirty = false"
echo '{"flakes":[],"version":2}' >"$tmp/registry.json"
# Without root, evaluate into a private store under $tmp instead of the system's.
if [ "$(id -u)" != 0 ] && [ ! -w /nix/var/nix ]; then
  export NIX_REMOTE="local?root=$tmp/nix-root"
fi

step "nix-instantiate --parse of every .nix file"
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.nix')
[ "${#files[@]}" -gt 0 ] || fail "no .nix files found; run from a git checkout of aifo-toolchain"
# One process for all files (the error names the file that does not parse).
nix-instantiate --parse "${files[@]}" >/dev/null || fail "a .nix file does not parse (see above)"
echo "parsed ${#files[@]} files"

git ls-files --error-unmatch flake.nix flake.lock >/dev/null 2>&1 ||
  fail "flake.nix and flake.lock must be tracked by git: flakes see tracked files only"
standin=(--override-input nixpkgs "path:$PWD/checks/nixpkgs-standin" --no-write-lock-file)

step "nix flake show (stand-in nixpkgs)"
# Also copies the flake and the stand-in into the store, which `flake check --no-build` (read-only
# in Nix 2.8) then only reads.
nix flake show "${standin[@]}" . 2>"$tmp/show.err" >"$tmp/show.out" || {
  cat "$tmp/show.err" >&2
  fail "nix flake show failed"
}
grep -c 'package\|derivation\|app\|development environment' "$tmp/show.out" | sed 's/$/ outputs/'

step "nix flake check --no-build (stand-in nixpkgs)"
nix flake check --no-build "${standin[@]}" . 2>"$tmp/check.err" || {
  cat "$tmp/check.err" >&2
  fail "nix flake check --no-build failed"
}

step "assertions on the evaluated outputs (test/nix/eval-flake.nix)"
failures=$(nix eval --impure --json -f test/nix/eval-flake.nix)
if [ "$failures" != "[]" ]; then
  printf '%s\n' "$failures" >&2
  fail "the flake's outputs do not hold (list above)"
fi
echo "all hold"

step "nix eval of installables through the flake"
eval_raw() { nix eval --raw "${standin[@]}" ".#$1" 2>"$tmp/eval.err" || {
  cat "$tmp/eval.err" >&2
  fail "nix eval .#$1 failed"
}; }
expect_eq() { [ "$2" = "$3" ] || fail "$1 is '$2', expected '$3'"; }
expect_suffix() { case "$2" in *"$3") ;; *) fail "$1 is '$2', expected it to end in '$3'" ;; esac }
for system in x86_64-linux aarch64-linux; do
  img="packages.$system.agent-image.aifo"
  path=$(eval_raw "$img.env.PATH")
  case "$path" in /opt/aifo/bin:*) ;; *) fail "$img.env.PATH is '$path', expected /opt/aifo/bin first" ;; esac
  expect_eq "$img.env.SHELL" "$(eval_raw "$img.env.SHELL")" /opt/aifo/bin/sh
  expect_eq "$img.created" "$(eval_raw "$img.created")" 1970-01-01T00:00:01Z
  expect_suffix "apps.$system.proxy.program" "$(eval_raw "apps.$system.proxy.program")" /bin/aifo-proxy
  expect_suffix "apps.$system.load-images.program" "$(eval_raw "apps.$system.load-images.program")" /bin/aifo-load-images
done
expect_suffix "apps.aarch64-darwin.default.program" "$(eval_raw apps.aarch64-darwin.default.program)" /bin/aifo-proxy
echo "all hold"

step "done in $(($(date +%s) - start))s"
