# `aifo-shim`: the in-container client, the esbuild bundle dist/aifo-shim.cjs as one file with a
# direct `#!<nodejs-slim>/bin/node` shebang. The shim takes the tool name from basename(argv[1]),
# so a symlink `cargo -> aifo-shim` must reach node as argv[1] = .../cargo. The kernel passes the
# path that was exec'd to the interpreter named by the shebang, which keeps that name; a
# makeWrapper script would exec node with the wrapped file instead and every tool would look like
# `aifo-shim` (reference section 5).
{
  lib,
  runCommand,
  # The built npm project (./npm-project.nix).
  npmProject,
  # The Node the shim runs on. Default: the caller passes nodejs-slim_22 (no npm).
  nodejs-slim,
  # Derivations that must not appear in the closure, as in ./proxy.nix. Default: none; the
  # caller passes the build Node (nodejs_22).
  disallowed ? [ ],
}:

let
  bundle = "${npmProject}/lib/node_modules/aifo-toolchain/dist/aifo-shim.cjs";
  node = "${nodejs-slim}/bin/node";
in
assert lib.assertMsg (builtins.stringLength "#!${node}" < 127)
  "shim: the shebang #!${node} is longer than the 127 bytes Linux reads before 5.1; use a shorter store directory";
runCommand "aifo-shim-${npmProject.version}"
  {
    disallowedRequisites = disallowed ++ [ npmProject ] ++ lib.optional (nodejs-slim ? npm) nodejs-slim.npm;
    meta = {
      description = "aifo-shim, the in-container toolexec client (esbuild bundle on ${nodejs-slim.name})";
      license = lib.licenses.mit;
      mainProgram = "aifo-shim";
    };
  }
  ''
    mkdir -p "$out/bin"
    if [ "$(head -c 2 "${bundle}")" != '#!' ]; then
      echo "shim: ${bundle} has no #! line; scripts/bundle.mjs must keep the esbuild banner" >&2
      exit 1
    fi
    { printf '#!%s\n' '${node}'; tail -n +2 "${bundle}"; } > "$out/bin/aifo-shim"
    chmod 0555 "$out/bin/aifo-shim"
  ''
