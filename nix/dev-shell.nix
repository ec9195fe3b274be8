# `nix develop`: the pinned Node (with npm) and the Docker client. On Linux the shell hook sets
# AIFO_SHIM_DIR, unless the caller already set one, to dist/opt-aifo-bin in the checkout and lays
# it out there from the checkout's own build (`node dist/aifo.mjs shims write`, the layout
# function) with the node and shells of the Nix images: mounted over /opt/aifo/bin, it runs in
# those images as is. `aifo-shim-dir` redoes it after `npm run build`.
{
  lib,
  mkShell,
  writeShellApplication,
  # Node for development (npm, tsc via npm scripts). Default: the caller passes nodejs_22.
  nodejs,
  # The docker CLI. Default: the caller passes docker-client.
  docker-client,
  # Node and shells named in the host-built shim directory; the Nix images carry these same
  # store paths. Defaults: the caller passes nodejs-slim_22, bashInteractive and dash.
  nodejs-slim,
  bash,
  dash,
  # Whether this is a Linux host: elsewhere a host-built directory names binaries no Linux
  # container has, so the hook leaves AIFO_SHIM_DIR alone.
  isLinux,
}:

let
  shimDir = writeShellApplication {
    name = "aifo-shim-dir";
    runtimeInputs = [ nodejs ];
    text = ''
      dir="''${1:-''${AIFO_SHIM_DIR:?set AIFO_SHIM_DIR or give a directory}}"
      if [ ! -f dist/aifo.mjs ]; then
        echo "aifo-shim-dir: dist/aifo.mjs is missing; run 'npm run build' in the checkout first" >&2
        exit 1
      fi
      exec node dist/aifo.mjs shims write "$dir" \
        --node ${nodejs-slim}/bin/node \
        --sh ${bash}/bin/sh \
        --bash ${bash}/bin/bash \
        --dash ${dash}/bin/dash
    '';
  };
in
mkShell {
  name = "aifo-toolchain-dev";
  packages = [
    nodejs
    docker-client
  ]
  ++ lib.optional isLinux shimDir;
  shellHook = lib.optionalString isLinux ''
    if [ -z "''${AIFO_SHIM_DIR:-}" ]; then
      export AIFO_SHIM_DIR="$PWD/dist/opt-aifo-bin"
      if [ -f dist/aifo.mjs ]; then
        aifo-shim-dir "$AIFO_SHIM_DIR" >/dev/null \
          || echo "nix develop: could not lay out $AIFO_SHIM_DIR; see aifo-shim-dir's error above" >&2
      else
        echo "nix develop: AIFO_SHIM_DIR=$AIFO_SHIM_DIR; run 'npm run build && aifo-shim-dir' to fill it" >&2
      fi
    fi
  '';
}
