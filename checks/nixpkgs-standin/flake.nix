{
  description = "Stand-in for nixpkgs, only to evaluate aifo-toolchain's flake wiring in CI without network; builds nothing (see README.md)";

  outputs =
    { self }:
    let
      lib = import ./lib.nix;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ] (system: import ./pkgs.nix { inherit system; });
    };
}
