# The sh, bash and dash wrappers on their own ($out/bin), for hosts and images that want the
# wrappers without the shim. Taken from ./aifo-root.nix, so they are byte for byte what the layout
# function wrote (same real shells), not a second rendering of src/wrappers/sh.
{
  lib,
  runCommand,
  # The laid-out /opt/aifo/bin (./aifo-root.nix).
  aifoRoot,
  # Which wrappers to copy. Default: all three the layout writes.
  names ? [
    "bash"
    "dash"
    "sh"
  ],
}:

assert lib.assertMsg (names != [ ]) "wrappers: names is empty; pass some of \"sh\", \"bash\", \"dash\"";
runCommand "aifo-wrappers"
  {
    passthru = { inherit (aifoRoot) realShells; };
  }
  ''
    mkdir -p "$out/bin"
    for name in ${lib.escapeShellArgs names}; do
      src="${aifoRoot}/opt/aifo/bin/$name"
      if [ ! -f "$src" ]; then
        echo "wrappers: $src is missing; the layout function writes sh, bash and dash" >&2
        exit 1
      fi
      cp "$src" "$out/bin/$name"
      chmod 0555 "$out/bin/$name"
    done
  ''
