# `import nixpkgs { system = ...; config = ...; }` of the stand-in. See README.md.
{
  system,
  config ? { },
  overlays ? [ ],
}:

assert overlays == [ ] || throw "checks/nixpkgs-standin: overlays are not supported by the stand-in";
import ./pkgs.nix { inherit system config; }
