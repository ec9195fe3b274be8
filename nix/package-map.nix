# images/agent.json and images/toolchains.json name Debian packages (the Debian images install
# them with mmdebstrap). The Nix images read the same files; this table says which nixpkgs
# packages stand for each Debian name. A Debian package with no entry here stops evaluation
# (./debian-packages.nix), so the two image builds cannot drift apart silently.
#
# An empty list means "nothing extra in Nix": the Debian package only splits out what the Nix
# package already ships (npm comes with nodejs_22, pip and venv with the python3 below, g++ and
# libc headers with the gcc wrapper).
{
  dockerTools,
  bashInteractive,
  dash,
  coreutils,
  procps,
  util-linux,
  curl,
  nodejs-slim_22,
  nodejs_22,
  python3,
  rustc,
  cargo,
  gnumake,
  gcc,
  clang,
  cmake,
  ninja,
  pkg-config,
  go,
}:

{
  # images/agent.json: the agent's Node runs only the shim (and npm-installed agents in the
  # Debian image), so the Nix image gets the slim build without npm.
  nodejs = [ nodejs-slim_22 ];
  bash = [ bashInteractive ];
  dash = [ dash ];
  coreutils = [ coreutils ];
  "ca-certificates" = [ dockerTools.caCertificates ];
  procps = [ procps ];
  "util-linux" = [ util-linux ];
  curl = [ curl ];

  # images/toolchains.json
  # rustc links through `cc`; Debian's rustc depends on gcc for the same reason.
  rustc = [
    rustc
    gcc
  ];
  cargo = [ cargo ];
  make = [ gnumake ];
  # Tools the Debian build installs from the npm registry (a kind's "npm" list, `name@range`),
  # as "npm:<name>". npm itself comes with the full Node, which the node toolchain needs anyway.
  "npm:npm" = [ nodejs_22 ];
  python3 = [ (python3.withPackages (ps: [ ps.pip ])) ];
  "python3-pip" = [ ];
  "python3-venv" = [ ];
  # nixpkgs' python3 already links bin/python to python3.
  "python-is-python3" = [ ];
  gcc = [ gcc ];
  "g++" = [ ];
  "libc6-dev" = [ ];
  clang = [ clang ];
  cmake = [ cmake ];
  "ninja-build" = [ ninja ];
  "pkg-config" = [ pkg-config ];
  "golang-go" = [ go ];
}
