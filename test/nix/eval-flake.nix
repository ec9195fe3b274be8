# `nix eval --impure --json -f test/nix/eval-flake.nix`: calls flake.nix's `outputs` with the
# stand-in nixpkgs of checks/nixpkgs-standin as the nixpkgs input and returns the failures of
# ./flake-assertions.nix ([] when all hold). Used by scripts/ci-nix.sh next to `nix flake check`,
# which evaluates the same outputs through the flake machinery and the lock file.
let
  root = ../..;
  standinDir = root + "/checks/nixpkgs-standin";
  nixpkgs = (import (standinDir + "/flake.nix")).outputs { self = nixpkgs; } // { outPath = standinDir; };
  outputs = (import (root + "/flake.nix")).outputs {
    self = outputs // {
      outPath = root;
    };
    inherit nixpkgs;
  };
  inherit (nixpkgs) lib;
in
import ./flake-assertions.nix {
  inherit lib outputs;
  agentDefinition = lib.importJSON (root + "/images/agent.json");
  toolchainDefinition = lib.importJSON (root + "/images/toolchains.json");
}
