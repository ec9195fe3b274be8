# The nixpkgs packages for a list of Debian package names from images/*.json, through
# ./package-map.nix. Stops evaluation, naming the package and the file to edit, when a name has
# no entry: the Nix and Debian images read the same definitions and must not drift apart.
{
  lib,
  # The table from ./package-map.nix.
  packageMap,
  # Debian package names, as in images/agent.json or images/toolchains.json.
  names,
  # What the names came from, for the error message. Default: "images/".
  from ? "images/",
}:

let
  missing = builtins.filter (n: !(packageMap ? ${n})) names;
in
assert lib.assertMsg (missing == [ ])
  "${from} names Debian package(s) ${lib.concatStringsSep ", " missing} with no nixpkgs equivalent; add them to nix/package-map.nix (an empty list if the Nix packages already cover them)";
lib.unique (builtins.concatMap (n: packageMap.${n}) names)
