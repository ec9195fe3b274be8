# Sandboxed layout check of one streamed image: runs the stream script, reads the archive with
# ./image-layout.mjs and fails with one line per broken expectation: /opt/aifo/bin entries (the
# exact layout aifo-root wrote, tool symlinks to aifo-shim, 0755 files owned by root), the
# shim's shebang, Env, Cmd, labels, /tmp and the writable directories (1777), the coder user,
# store paths that must or must not be there, and size budgets. No container engine involved.
{
  lib,
  runCommand,
  writeText,
  # The Node that runs the checker. Default: the caller passes nodejs-slim_22.
  nodejs-slim,
  # A dockerTools.streamLayeredImage result built by ./image.nix (it reads image.aifo).
  image,
  # ./aifo-root.nix output when the image carries /opt/aifo/bin; null for toolchain images.
  aifoRoot ? null,
  # Tool names that must be symlinks to aifo-shim. Default: the routing table of
  # protocol.md ("Execution") plus `say`; the layout comparison also holds every other entry.
  tools ? [
    "cargo" "rustc" "rust-analyzer"
    "node" "npm" "npx" "yarn" "pnpm" "deno" "bun" "tsc" "ts-node"
    "python" "python3" "pip" "pip3" "uv" "uvx"
    "go" "gofmt"
    "make" "cmake" "ninja" "pkg-config" "gcc" "g++" "cc" "c++" "clang" "clang++" "hadolint"
    "say"
  ],
  # The passwd user the image must have. Default: coder, 1000:1000, /home/coder.
  user ? {
    name = "coder";
    uid = 1000;
    gid = 1000;
    home = "/home/coder";
  },
  # Paths that must exist in the image (symlinks followed). Default: none.
  paths ? [ ],
  # Regular expressions on store path names (hash-name) that must not / must match a store path
  # of the image. Defaults: none.
  forbidStore ? [ ],
  requireStore ? [ ],
  # Budgets: total bytes of regular files and number of store paths. Default: no budget.
  maxBytes ? null,
  maxStorePaths ? null,
}:

let
  info = image.aifo;
  shimDir = "/opt/aifo/bin";
  expect = {
    repoTag = "${info.name}:${info.tag}";
    created = "1970-01-01T00:00:01Z";
    inherit (info) env cmd labels;
    dirs = lib.genAttrs info.writableDirs (_: "1777");
    users.${user.name} = { inherit (user) uid gid home; };
    inherit paths forbidStore requireStore;
  }
  // lib.optionalAttrs (aifoRoot != null) {
    inherit shimDir tools;
    wrappers = [
      "sh"
      "bash"
      "dash"
    ];
    shebang = "#!${aifoRoot.node}";
    layoutFrom = "${aifoRoot}/${aifoRoot.binDir}";
  }
  // lib.optionalAttrs (maxBytes != null) { inherit maxBytes; }
  // lib.optionalAttrs (maxStorePaths != null) { inherit maxStorePaths; };
in
assert lib.assertMsg (image ? aifo)
  "image-layout: ${image.name or "the image"} has no passthru.aifo; build it with nix/image.nix (or pass expectations another way)";
runCommand "image-layout-${info.name}"
  {
    nativeBuildInputs = [ nodejs-slim ];
    expectJson = writeText "image-layout-${info.name}.json" (builtins.toJSON expect);
  }
  ''
    set -o pipefail
    ${image} | node ${./image-layout.mjs} --expect "$expectJson" | tee "$out"
  ''
