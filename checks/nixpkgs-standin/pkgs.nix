# The packages and build helpers aifo-toolchain's flake touches, as placeholders: each is a real
# derivation (builtins.derivation, so drvPath, outPath and string context behave as in nixpkgs)
# whose builder only prints that it is a stand-in and fails. Nothing here is ever built.
#
# The helpers keep the argument names of the nixpkgs functions they stand for, with the same
# required arguments and, where nixpkgs takes no `...`, no `...` either -- a misspelt argument
# fails here as it would there. Sources: pkgs/build-support/docker/default.nix,
# pkgs/build-support/node/{build-npm-package,import-npm-lock}, pkgs/build-support/fake-nss,
# pkgs/build-support/trivial-builders, pkgs/build-support/testers.
{
  system,
  config ? { },
}:

let
  lib = import ./lib.nix;
  inherit (builtins)
    isAttrs
    isFunction
    isList
    mapAttrs
    removeAttrs
    toJSON
    ;

  # Attribute values a derivation takes: strings, numbers, booleans, derivations and lists of
  # those; anything else (attribute sets, nested lists) as JSON, functions dropped.
  clean =
    v:
    if isFunction v then
      null
    else if isAttrs v && !(v ? outPath) then
      mapAttrs (_: clean) (lib.filterAttrs (_: x: !isFunction x) v)
    else if isList v then
      map clean v
    else
      v;
  plain = v: !(isAttrs v && !(v ? outPath)) && !(isList v) && !(isFunction v) && v != null;
  envValue =
    v:
    if isList v && builtins.all plain v then
      v
    else if plain v then
      v
    else
      toJSON (clean v);
  envOf = attrs: lib.filterAttrs (_: v: v != null) (mapAttrs (_: envValue) (lib.filterAttrs (_: v: !isFunction v) attrs));

  fail = name: "echo 'checks/nixpkgs-standin: ${name} is an evaluation placeholder; build with the real nixpkgs' >&2; exit 1";

  # A placeholder derivation; `extra` becomes attributes of the result (passthru, meta).
  mkDrv =
    name: attrs: extra:
    derivation (
      {
        inherit name system;
        builder = "/bin/sh";
        args = [
          "-c"
          (fail name)
        ];
      }
      // envOf (removeAttrs attrs [ "name" "system" "builder" "args" "passthru" "meta" ])
    )
    // (attrs.passthru or { })
    // extra
    // {
      meta = attrs.meta or { };
    }
    // lib.optionalAttrs (extra ? meta) { inherit (extra) meta; };

  # A package: pname-version, meta.mainProgram and a license, plus extra attributes.
  pkg =
    pname: extra:
    let
      version = extra.version or "0-standin";
    in
    mkDrv "${pname}-${version}" { } (
      {
        inherit pname version;
        meta = {
          mainProgram = pname;
          license = lib.licenses.mit;
        }
        // (extra.meta or { });
      }
      // removeAttrs extra [ "meta" ]
    );

  # nixpkgs refuses to evaluate an unfree package's drvPath unless config allows it
  # (pkgs/stdenv/generic/check-meta.nix); the stand-in does the same for the one it has.
  checkMeta =
    drv:
    let
      allowed =
        (drv.meta.license.free or true)
        || (config.allowUnfree or false)
        || ((config.allowUnfreePredicate or (_: false)) drv);
      refuse = throw "Package ‘${drv.name}’ has an unfree license (‘${drv.meta.license.fullName}’), refusing to evaluate (stand-in of check-meta.nix).";
    in
    if allowed then
      drv
    else
      drv
      // {
        drvPath = refuse;
        outPath = refuse;
      };

  makeOverridable =
    f: args:
    f args
    // {
      override = more: makeOverridable f (args // more);
    };

  runCommand =
    name: env: buildCommand:
    mkDrv name (removeAttrs env [ "passthru" "meta" ] // { inherit buildCommand; }) (
      (env.passthru or { }) // lib.optionalAttrs (env ? meta) { inherit (env) meta; }
    );

  writeText = name: text: mkDrv name { inherit text; } { };

  fetchurl =
    {
      url,
      hash ? null,
      sha256 ? null,
      ...
    }:
    assert lib.assertMsg (hash != null || sha256 != null) "fetchurl: ${url} has no hash";
    # A fixed-output placeholder: its hash is checked when the .drv is written, as in nixpkgs.
    derivation {
      name = baseNameOf url;
      inherit system url;
      builder = "/bin/sh";
      args = [
        "-c"
        (fail url)
      ];
      outputHashMode = "flat";
      outputHash = if hash != null then hash else sha256;
    };

  pythonPackages = {
    pip = pkg "python3.13-pip" { };
  };
  python3 = pkg "python3" {
    version = "3.13-standin";
    withPackages = f: mkDrv "python3-3.13-standin-env" { packages = f pythonPackages; } { };
    pkgs = pythonPackages;
  };

  nodejs-slim_22 = pkg "nodejs-slim" {
    version = "22-standin";
    meta.mainProgram = "node";
    # nixpkgs builds npm as an output of nodejs-slim and joins both into nodejs.
    npm = pkg "nodejs-slim-npm" { version = "22-standin"; };
  };
  nodejs_22 = pkg "nodejs" {
    version = "22-standin";
    meta.mainProgram = "node";
    python = python3;
    paths = [
      nodejs-slim_22
      nodejs-slim_22.npm
    ];
  };

  dockerTools = rec {
    streamLayeredImage =
      {
        name,
        tag ? null,
        fromImage ? null,
        contents ? [ ],
        config ? { },
        architecture ? "standin",
        created ? "1970-01-01T00:00:01Z",
        mtime ? "1970-01-01T00:00:01Z",
        uid ? 0,
        gid ? 0,
        uname ? "root",
        gname ? "root",
        maxLayers ? 100,
        extraCommands ? "",
        fakeRootCommands ? "",
        enableFakechroot ? false,
        includeStorePaths ? true,
        includeNixDB ? false,
        passthru ? { },
      }:
      assert lib.assertMsg (maxLayers > 1)
        "the maxLayers argument of dockerTools.buildLayeredImage function must be greather than 1 (current value: ${toString maxLayers})";
      mkDrv "stream-${baseNameOf name}" {
        inherit contents extraCommands fakeRootCommands;
        conf = toJSON {
          inherit
            config
            created
            mtime
            architecture
            maxLayers
            ;
          repo_tag = "${lib.toLower name}:${if tag == null then "standin" else tag}";
          from_image = fromImage;
        };
      } (
        passthru
        // {
          imageName = lib.toLower name;
          imageTag = if tag == null then "standin" else tag;
          isExe = true;
        }
      );

    buildLayeredImage =
      { name, ... }@args:
      let
        stream = streamLayeredImage args;
      in
      runCommand "${baseNameOf name}.tar.gz" {
        inherit (stream) imageName;
        passthru = { inherit (stream) imageTag; };
      } "${stream} | pigz -nT > $out";

    usrBinEnv = runCommand "usr-bin-env" { } "";
    binSh = runCommand "bin-sh" { } "";
    caCertificates = runCommand "ca-certificates" { } "";
    fakeNss = makeOverridable (
      {
        extraPasswdLines ? [ ],
        extraGroupLines ? [ ],
      }:
      runCommand "fake-nss" {
        passwd = lib.concatStringsSep "\n" (
          [ "root:x:0:0:root user:/var/empty:/bin/sh" ] ++ extraPasswdLines ++ [ "nobody:x:65534:65534:nobody:/var/empty:/bin/sh" ]
        );
        group = lib.concatStringsSep "\n" ([ "root:x:0:" ] ++ extraGroupLines ++ [ "nobody:x:65534:" ]);
      } ""
    ) { };
  };

  importNpmLock =
    let
      fetchModule =
        { module, npmRoot }:
        if module ? resolved then
          let
            m = builtins.match "(.+)://(.+)" module.resolved;
            scheme = builtins.elemAt m 0;
          in
          if m == null then
            { outPath = npmRoot + "/${module.resolved}"; }
          else if scheme == "http" || scheme == "https" then
            fetchurl {
              url = module.resolved;
              hash = module.integrity;
            }
          else
            throw "Unsupported URL scheme: ${scheme} (the stand-in has no fetchGit)"
        else
          null;
      importNpmLock =
        {
          npmRoot ? null,
          package ? lib.importJSON (npmRoot + "/package.json"),
          packageLock ? lib.importJSON (npmRoot + "/package-lock.json"),
          pname ? package.name or "unknown",
          version ? package.version or "0.0.0",
          fetcherOpts ? { },
        }:
        let
          packages = mapAttrs (
            _: module:
            let
              src = fetchModule { inherit module npmRoot; };
            in
            removeAttrs module [ "link" "funding" ] // lib.optionalAttrs (src != null) { resolved = "file:${src}"; }
          ) packageLock.packages;
        in
        runCommand "${pname}-${version}-sources" {
          package = toJSON package;
          packageLock = toJSON (packageLock // { inherit packages; });
        } "";
    in
    {
      inherit importNpmLock;
      npmConfigHook = runCommand "npm-config-hook" { } "";
      __functor = self: self.importNpmLock;
    };

  buildNpmPackage =
    {
      pname,
      version,
      src ? null,
      nodejs ? nodejs_22,
      npmDeps ? throw "buildNpmPackage (stand-in): pass npmDeps; the stand-in has no fetchNpmDeps",
      npmConfigHook ? null,
      npmBuildHook ? null,
      npmInstallHook ? null,
      ...
    }@args:
    mkDrv "${pname}-${version}" (
      removeAttrs args [ "nodejs" ]
      // {
        inherit npmDeps;
        nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ nodejs ] ++ lib.optional (npmConfigHook != null) npmConfigHook;
      }
    ) { inherit pname version; };

  writeShellApplication =
    {
      name,
      text,
      runtimeInputs ? [ ],
      runtimeEnv ? null,
      meta ? { },
      passthru ? { },
      checkPhase ? null,
      excludeShellChecks ? [ ],
      extraShellCheckFlags ? [ ],
      bashOptions ? [
        "errexit"
        "nounset"
        "pipefail"
      ],
      inheritPath ? true,
      derivationArgs ? { },
    }:
    mkDrv name { inherit text runtimeInputs; } (passthru // { meta = { mainProgram = name; } // meta; });

  mkShell =
    {
      name ? "nix-shell",
      packages ? [ ],
      shellHook ? "",
      ...
    }@attrs:
    mkDrv name attrs { inherit shellHook; };

  testers.runNixOSTest =
    test:
    let
      t = if isFunction test then test { } else test;
    in
    assert lib.assertMsg (t ? name && t ? nodes && t ? testScript)
      "runNixOSTest (stand-in): a test needs name, nodes and testScript";
    # The NixOS module system is not part of the stand-in: the node configurations are only
    # serialised, the test script and the store paths it names are kept.
    mkDrv "vm-test-run-${t.name}" {
      testScript = if isFunction t.testScript then t.testScript { nodes = { }; } else t.testScript;
      nodes = t.nodes;
    } { };

  agent =
    pname: mainProgram: license:
    checkMeta (pkg pname {
      meta = {
        inherit mainProgram license;
      };
    });
in
{
  inherit
    lib
    dockerTools
    runCommand
    writeText
    writeShellApplication
    mkShell
    testers
    fetchurl
    buildNpmPackage
    importNpmLock
    nodejs_22
    nodejs-slim_22
    python3
    ;

  bashInteractive = pkg "bash-interactive" { meta.mainProgram = "bash"; };
  dash = pkg "dash" { };
  busybox = pkg "busybox" { };
  coreutils = pkg "coreutils" { };
  procps = pkg "procps" { meta.mainProgram = "ps"; };
  util-linux = pkg "util-linux" { };
  curl = pkg "curl" { };
  docker-client = pkg "docker" { };
  rustc = pkg "rustc" { };
  cargo = pkg "cargo" { };
  gnumake = pkg "gnumake" { meta.mainProgram = "make"; };
  gcc = pkg "gcc-wrapper" { meta.mainProgram = "gcc"; };
  clang = pkg "clang-wrapper" { meta.mainProgram = "clang"; };
  cmake = pkg "cmake" { };
  ninja = pkg "ninja" { };
  pkg-config = pkg "pkg-config-wrapper" { meta.mainProgram = "pkg-config"; };
  go = pkg "go" { };

  # The coding agents, with nixpkgs' mainProgram and license (pkgs/by-name/co/codex,
  # pkgs/by-name/cr/crush, pkgs/by-name/ai/aider-chat).
  codex = agent "codex" "codex" lib.licenses.mit;
  crush = agent "crush" "crush" lib.licenses.fsl11Mit;
  aider-chat = agent "aider-chat" "aider" lib.licenses.mit;
}
