# The subset of nixpkgs' lib that aifo-toolchain's flake calls, re-implemented on builtins with
# the same names, arguments and results (lib/attrsets.nix, lib/strings.nix, lib/lists.nix,
# lib/asserts.nix, lib/fileset). Evaluation only: see README.md.
let
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    foldl'
    listToAttrs
    match
    replaceStrings
    stringLength
    substring
    ;
in
rec {
  # lib re-exports these builtins under the same names.
  inherit (builtins)
    attrNames
    attrValues
    concatStringsSep
    elem
    filter
    listToAttrs
    mapAttrs
    replaceStrings
    ;

  genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
  mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
  filterAttrs = pred: set: listToAttrs (map (n: nameValuePair n set.${n}) (filter (n: pred n set.${n}) (attrNames set)));
  optionalAttrs = cond: set: if cond then set else { };
  optional = cond: x: if cond then [ x ] else [ ];
  optionalString = cond: s: if cond then s else "";
  unique = foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  hasPrefix = pre: s: substring 0 (stringLength pre) s == pre;
  hasSuffix =
    suf: s:
    let
      ls = stringLength s;
      lf = stringLength suf;
    in
    lf <= ls && substring (ls - lf) lf s == suf;
  hasInfix = infix: s: match ".*${escapeRegex infix}.*" s != null;
  escapeRegex = replaceStrings [ "\\" "[" "]" "{" "}" "(" ")" "^" "$" "?" "*" "+" "|" "." ] [ "\\\\" "\\[" "\\]" "\\{" "\\}" "\\(" "\\)" "\\^" "\\$" "\\?" "\\*" "\\+" "\\|" "\\." ];
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  toUpper = replaceStrings lowerChars upperChars;
  lowerChars = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  upperChars = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  toLower = replaceStrings upperChars lowerChars;
  escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
  escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);

  importJSON = path: builtins.fromJSON (builtins.readFile path);
  assertMsg = pred: msg: pred || builtins.throw msg;
  getName = x: (builtins.parseDrvName (x.name or x)).name;

  licenses.mit = {
    spdxId = "MIT";
    fullName = "MIT License";
    free = true;
  };
  # As lib/licenses.nix: source-available, redistributable, not free.
  licenses.fsl11Mit = {
    fullName = "Functional Source License, Version 1.1, MIT Future License";
    free = false;
    redistributable = true;
  };

  # lib.fileset, reduced to a list of terms { inc = path; exc = [ paths ]; }: a file or directory
  # taken whole, minus what difference removed from it. toSource copies `root` filtered to the
  # terms, as the real one does with builtins.path (no import-from-derivation).
  fileset = rec {
    terms = s: if builtins.isList s then s else [ { inc = toString s; exc = [ ]; } ];
    unions = sets: builtins.concatMap terms sets;
    maybeMissing = p: if builtins.pathExists p then terms p else [ ];
    difference =
      a: b:
      map (t: t // { exc = t.exc ++ map (u: u.inc) (terms b); }) (terms a);
    toSource =
      { root, fileset }:
      let
        ts = terms fileset;
        under = p: d: p == d || hasPrefix "${d}/" p;
        inside = p: t: under p t.inc && !(builtins.any (under p) t.exc);
        ancestor = p: t: hasPrefix "${p}/" t.inc;
      in
      assert builtins.all (t: under t.inc (toString root)) ts
        || throw "lib.fileset.toSource: a file set path is outside root ${toString root}";
      builtins.path {
        name = "source";
        path = root;
        filter =
          path: _type:
          builtins.any (t: inside (toString path) t || ancestor (toString path) t) ts;
      };
  };
}
