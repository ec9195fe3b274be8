# One layered image, the part every aifo image shares: store paths in their own layers (most
# popular first, as dockerTools does), a last "customisation" layer with the root links, /tmp and
# the writable directories, and a config with a fixed creation date. Stream-first: the default
# builder is dockerTools.streamLayeredImage, whose result is a script that writes the image tar
# to stdout (`$(nix build --print-out-paths .#agent-image) | docker load`); pass
# dockerTools.buildLayeredImage as `build` for a .tar.gz in the store.
#
# Deterministic: `created` is fixed, dockerTools packs the customisation layer with sorted names,
# numeric owners (0:0) and a fixed mtime, and the store layers are store paths.
{
  lib,
  dockerTools,
  # streamLayeredImage (default) or buildLayeredImage; both take the arguments below.
  build ? dockerTools.streamLayeredImage,
  # Repository name and tag, e.g. aifo-agent and nix (the Debian build tags `local`).
  name,
  tag ? "nix",
  # Packages whose bin/, etc/, ... are linked into the image root.
  contents,
  # Environment, as an attribute set (written sorted by name).
  env,
  # Command the container runs when none is given.
  cmd,
  # OCI labels. Default: none.
  labels ? { },
  # Directories made world-writable and sticky (1777), as in the Debian images: containers run
  # as the caller's uid:gid, which the image cannot know. /tmp is always one of them.
  writableDirs ? [ ],
  # Shell run in the customisation layer before the directories are made. Default: nothing.
  extraCommands ? "",
  # Upper bound on layers (dockerTools default 100; Docker's own limit is 125).
  maxLayers ? 100,
}:

let
  badDirs = builtins.filter (d: builtins.match "/[A-Za-z0-9._/-]+" d == null || lib.hasInfix ".." d) writableDirs;
  dirs = [ "/tmp" ] ++ writableDirs;
  # 1 second after the epoch, dockerTools' own default, spelt out: the image id must not depend
  # on when it was built.
  created = "1970-01-01T00:00:01Z";
  config = {
    Env = lib.mapAttrsToList (k: v: "${k}=${v}") env;
    Cmd = cmd;
    Labels = labels;
  };
in
assert lib.assertMsg (badDirs == [ ])
  "image ${name}: writableDirs ${lib.concatStringsSep ", " badDirs} must be absolute paths of letters, digits and ._/- without `..`; fix images/*.json";
assert lib.assertMsg (builtins.match "[a-z0-9][a-z0-9._/-]*" name != null)
  "image ${name}: a repository name must be lowercase letters, digits and ._/-; rename it";
assert lib.assertMsg (cmd != [ ]) "image ${name}: cmd is empty; give the command the container runs, e.g. [ \"/bin/bash\" ]";
build {
  inherit
    name
    tag
    contents
    config
    maxLayers
    created
    ;
  extraCommands = ''
    ${extraCommands}
    for d in ${lib.escapeShellArgs dirs}; do
      mkdir -p ".$d"
      chmod 1777 ".$d"
    done
  '';
  passthru = {
    # What went into the image, for `nix eval` and the layout checks.
    aifo = {
      inherit
        name
        tag
        env
        cmd
        labels
        contents
        created
        ;
      writableDirs = dirs;
    };
  };
}
