# `aifo` (the CLI and the toolexec proxy): the esbuild bundle dist/aifo.mjs with a direct
# `#!<nodejs-slim>/bin/node` shebang. Not makeWrapper: a wrapper script would put a shell
# between the caller and node, and the same treatment for the shim would lose the argv[1] tool
# name (see ./shim.nix). The package directory keeps its layout (dist/aifo.mjs next to
# dist/aifo-shim.cjs, package.json, src/wrappers/sh) because `aifo shims write` installs the
# shim bundle it finds next to itself.
#
# npm, and the build-time Node that carries it, must not be in the runtime closure:
# disallowedRequisites makes the build fail if anything still refers to them.
{
  lib,
  runCommand,
  # The built npm project (./npm-project.nix).
  npmProject,
  # The Node the bundles run on. Default: the caller passes nodejs-slim_22 (no npm).
  nodejs-slim,
  # Derivations that must not appear in the closure. Default: the caller passes the
  # build Node (nodejs_22, which carries npm); nodejs-slim's own `npm` output, where
  # nixpkgs has one, and the npm project itself are always added.
  disallowed ? [ ],
}:

let
  name = "aifo-toolchain";
  packageDir = "${npmProject}/lib/node_modules/${name}";
  node = "${nodejs-slim}/bin/node";
in
assert lib.assertMsg (nodejs-slim ? meta)
  "proxy: nodejs-slim must be a Node package such as pkgs.nodejs-slim_22, got something else";
runCommand "aifo-${npmProject.version}"
  {
    disallowedRequisites = disallowed ++ [ npmProject ] ++ lib.optional (nodejs-slim ? npm) nodejs-slim.npm;
    meta = {
      description = "aifo CLI and toolexec proxy (esbuild bundle on ${nodejs-slim.name})";
      license = lib.licenses.mit;
      mainProgram = "aifo";
    };
  }
  ''
    lib="$out/lib/${name}"
    mkdir -p "$lib" "$out/bin"
    # Everything npm would publish except the dependencies: the bundles are self-contained.
    for entry in "${packageDir}"/*; do
      case "$(basename "$entry")" in
        node_modules|build) ;;
        *) cp -R "$entry" "$lib/" ;;
      esac
    done
    chmod -R u+w "$lib"
    for f in "$lib/dist/aifo.mjs" "$lib/dist/aifo-shim.cjs"; do
      if [ "$(head -c 2 "$f")" != '#!' ]; then
        echo "proxy: $f has no #! line; scripts/bundle.mjs must keep the esbuild banner" >&2
        exit 1
      fi
      sed -i '1s|^#!.*$|#!${node}|' "$f"
      chmod 0555 "$f"
    done
    # A symlink keeps argv[1] pointing at bin/aifo; node resolves the module's real path, so
    # dist/aifo-shim.cjs is still found next to the bundle.
    ln -s "../lib/${name}/dist/aifo.mjs" "$out/bin/aifo"
  ''
