# An agent image: no compilers, every routed tool name in /opt/aifo/bin resolves to aifo-shim,
# sh/bash/dash are the wrappers, PATH starts with /opt/aifo/bin and SHELL is the sh wrapper.
# Contents, environment and writable directories come from images/agent.json, the file the
# Debian build reads (Debian package names mapped by ./package-map.nix). Flavors as in the
# release notes: slim (default, no curl) and full (curl kept, for AIFO_SHIM_NATIVE_HTTP=0).
# With `agent`, a coding agent from nixpkgs is added and becomes the command.
{
  lib,
  # ./image.nix with its dependencies filled in (callPackage).
  mkImage,
  # streamLayeredImage or buildLayeredImage, passed on to ./image.nix. Default: ./image.nix's.
  build ? null,
  # The laid-out /opt/aifo/bin (./aifo-root.nix).
  aifoRoot,
  # passwd/group with the coder user (./users.nix).
  users,
  # For /usr/bin/env and /bin/sh, which a Debian image also has.
  dockerTools,
  # The table of ./package-map.nix.
  packageMap,
  # images/agent.json, parsed.
  definition,
  # "slim" or "full" (keys of definition.flavors). Default: slim.
  flavor ? "slim",
  # A coding agent package from nixpkgs (codex, crush, aider-chat, ...) and the short name used
  # in the image name (aifo-agent-<agentName>). Default: none, the plain agent image.
  agent ? null,
  agentName ? null,
  # Image tag. Default: nix (the Debian build uses `local`).
  tag ? "nix",
  # More packages to link into the root. Default: none.
  extraContents ? [ ],
}:

let
  flavors = definition.flavors or { };
  shimDir = definition.shimDir;
  names = definition.packages ++ (flavors.${flavor}.packages or [ ]);
  packages = import ./debian-packages.nix {
    inherit lib packageMap names;
    from = "images/agent.json (flavor ${flavor})";
  };
  env = definition.env // {
    # nixpkgs programs read the CA bundle from here (dockerTools.caCertificates puts it there).
    SSL_CERT_FILE = "/etc/ssl/certs/ca-bundle.crt";
  };
  suffix = lib.optionalString (agent != null) "-${agentName}" + lib.optionalString (flavor == "full") "-full";
in
assert lib.assertMsg (flavors ? ${flavor})
  "agent-image: flavor ${flavor} is not in images/agent.json; use one of ${lib.concatStringsSep ", " (builtins.attrNames flavors)}";
assert lib.assertMsg (lib.hasPrefix "${shimDir}:" (env.PATH or ""))
  "agent-image: PATH in images/agent.json must start with ${shimDir}: so tool names resolve to the shim; it is ${env.PATH or "unset"}";
assert lib.assertMsg ((env.SHELL or "") == "${shimDir}/sh")
  "agent-image: SHELL in images/agent.json must be ${shimDir}/sh (the wrapper); it is ${env.SHELL or "unset"}";
assert lib.assertMsg (agent == null || (agentName != null && agent ? meta.mainProgram))
  "agent-image: an agent needs agentName (for the image name) and meta.mainProgram (the command); ${agent.name or "the agent"} lacks one";
mkImage (
  {
    name = "aifo-agent${suffix}";
    inherit tag env;
    contents = packages ++ [
      users
      dockerTools.usrBinEnv
      dockerTools.binSh
    ]
    ++ lib.optional (agent != null) agent
    ++ extraContents;
    cmd = if agent == null then [ "/bin/bash" ] else [ agent.meta.mainProgram ];
    labels = {
      "org.aifo.image" = if agent == null then "agent" else "agent-${agentName}";
      "org.aifo.flavor" = flavor;
      "org.aifo.builder" = "nix";
    }
    // lib.optionalAttrs (agent != null) {
      "org.aifo.agent" = agentName;
      "org.aifo.agent-version" = agent.version or "unknown";
    };
    writableDirs = definition.writableDirs or [ ];
    # The layout, copied (not linked) into the image so /opt/aifo/bin holds real files and the
    # relative tool symlinks, as in the Debian image. The store made the files 0555; the layout
    # function wrote 0755 (and 0644 for anything not executable), so put that back.
    extraCommands = ''
      mkdir -p ".${dirOf shimDir}"
      cp -R "${aifoRoot}/${aifoRoot.binDir}" ".${shimDir}"
      chmod 0755 ".${shimDir}"
      find ".${shimDir}" -type f -perm -u+x -exec chmod 0755 {} +
      find ".${shimDir}" -type f ! -perm -u+x -exec chmod 0644 {} +
    '';
  }
  // lib.optionalAttrs (build != null) { inherit build; }
)
