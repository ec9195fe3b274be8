# /opt/aifo/bin as a store path: $out/opt/aifo/bin, laid out by our own layout function
# (`aifo shims write`, writeShimDir in src/wrappers/layout.ts) -- the same code that lays out the
# Debian images and host override directories, never a second implementation in Nix. It holds
# aifo-shim (shebang: the pinned node), one relative symlink per routed tool plus `say`, and the
# sh, bash and dash wrappers, which exec the real shells named here by absolute store path.
#
# The Nix store drops write bits (0755 becomes 0555); the images restore the layout's modes when
# they copy this directory (./agent-image.nix).
{
  lib,
  runCommand,
  # `aifo` (./proxy.nix); its `shims write` command is the layout function.
  proxy,
  # aifo-shim (./shim.nix): the bundle the layout installs (with its own shebang line).
  shim,
  # The Node in aifo-shim's shebang. Default: the caller passes nodejs-slim_22.
  nodejs-slim,
  # Real shells the wrappers exec. Defaults: the caller passes bashInteractive and dash.
  bash,
  dash,
  # The real `sh`. It also runs the wrapper scripts (their shebang), so its basename must be
  # `sh`: bash started as sh reads no startup files. Default: bash's own bin/sh.
  sh ? "${bash}/bin/sh",
  # Derivations that must not appear in the closure, as in ./proxy.nix. Default: none.
  disallowed ? [ ],
}:

let
  realBash = "${bash}/bin/bash";
  realDash = "${dash}/bin/dash";
  node = "${nodejs-slim}/bin/node";
in
assert lib.assertMsg (baseNameOf sh == "sh")
  "aifo-root: sh is ${sh}, whose basename is not `sh`; pass a path like \"\${bash}/bin/sh\" (the wrappers run under it and must not read bash startup files)";
assert lib.assertMsg (lib.hasPrefix builtins.storeDir sh)
  "aifo-root: sh is ${sh}, not a store path; pass \"\${pkg}/bin/sh\" so the image carries the shell it names";
runCommand "aifo-root"
  {
    nativeBuildInputs = [ proxy ];
    disallowedRequisites = disallowed ++ lib.optional (nodejs-slim ? npm) nodejs-slim.npm;
    passthru = {
      # The directory every consumer mounts or copies.
      binDir = "opt/aifo/bin";
      # The interpreter in aifo-shim's first line.
      inherit node;
      realShells = {
        inherit sh;
        bash = realBash;
        dash = realDash;
      };
    };
  }
  ''
    mkdir -p "$out/opt/aifo"
    aifo shims write "$out/opt/aifo/bin" \
      --shim-bundle ${shim}/bin/aifo-shim \
      --node ${lib.escapeShellArg node} \
      --sh ${lib.escapeShellArg sh} \
      --bash ${lib.escapeShellArg realBash} \
      --dash ${lib.escapeShellArg realDash}

    shebang="$(head -n 1 "$out/opt/aifo/bin/aifo-shim")"
    if [ "$shebang" != '#!${node}' ]; then
      echo "aifo-root: aifo-shim starts with '$shebang', expected '#!${node}'" >&2
      exit 1
    fi
    # The layout function's own completeness check (what `aifo doctor` runs).
    aifo shims check "$out/opt/aifo/bin"
  ''
