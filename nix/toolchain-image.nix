# A toolchain sidecar image for one kind (rust, node, python, c-cpp, go): the kind's tools, the
# common packages (util-linux for setsid, procps), bash as /bin/sh for the runner's constant
# wrapper, and the environment and writable directories of images/toolchains.json -- the file
# the Debian build reads (Debian package names mapped by ./package-map.nix). The container idles
# (`sleep infinity`) until the proxy execs tools in it.
{
  lib,
  # ./image.nix with its dependencies filled in (callPackage).
  mkImage,
  # streamLayeredImage or buildLayeredImage, passed on to ./image.nix. Default: ./image.nix's.
  build ? null,
  dockerTools,
  bashInteractive,
  coreutils,
  # passwd/group with the coder user (./users.nix).
  users,
  # The table of ./package-map.nix.
  packageMap,
  # images/toolchains.json, parsed.
  definition,
  # One of the keys of definition.kinds.
  kind,
  # Image tag. Default: nix (the Debian build uses `local`).
  tag ? "nix",
  # More packages for this kind (e.g. rust-analyzer, deno). Default: none.
  extraContents ? [ ],
}:

let
  kinds = definition.kinds or { };
  k = kinds.${kind};
  common = definition.common or { };
  # "npm@10" or "@scope/tool@1" -> "npm:npm", "npm:@scope/tool" (./package-map.nix).
  npmName = spec: "npm:${builtins.head (builtins.match "(@?[^@]+)(@.*)?" spec)}";
  names = (common.packages or [ ]) ++ k.packages ++ map npmName (k.npm or [ ]);
  packages = import ./debian-packages.nix {
    inherit lib packageMap names;
    from = "images/toolchains.json (kind ${kind})";
  };
  env = (common.env or { }) // (k.env or { }) // {
    SSL_CERT_FILE = "/etc/ssl/certs/ca-bundle.crt";
  };
in
assert lib.assertMsg (kinds ? ${kind})
  "toolchain-image: kind ${kind} is not in images/toolchains.json; use one of ${lib.concatStringsSep ", " (builtins.attrNames kinds)}";
mkImage (
  {
    name = "aifo-toolchain-${kind}";
    inherit tag env;
    # bash also provides /bin/sh; coreutils gives `sleep` and the rest of a shell's basics.
    contents = [
      bashInteractive
      coreutils
      dockerTools.binSh
      dockerTools.usrBinEnv
      users
    ]
    ++ packages
    ++ extraContents;
    cmd = [
      "sleep"
      "infinity"
    ];
    labels = {
      "org.aifo.image" = "toolchain";
      "org.aifo.kind" = kind;
      "org.aifo.builder" = "nix";
    }
    // lib.optionalAttrs (k ? cache) { "org.aifo.cache" = k.cache; };
    writableDirs = (common.writableDirs or [ ]) ++ (k.writableDirs or [ ]);
  }
  // lib.optionalAttrs (build != null) { inherit build; }
)
