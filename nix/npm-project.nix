# The npm project (package.json) built with buildNpmPackage. Dependencies come from
# package-lock.json through importNpmLock: every entry's `resolved` URL and `integrity` hash
# become fetchurl calls, so there is no npmDepsHash to keep in step with the lock file (the
# project .npmrc sets omit-lockfile-registry-resolved=false so npm keeps those fields).
#
# Output: $out/lib/node_modules/aifo-toolchain with dist/ (the esbuild bundles), the package
# files and build/ (the tsc output: tests, checks), and $out/bin/{aifo,aifo-shim} wrappers that
# run on the build Node. The images never use this output directly: ./proxy.nix and ./shim.nix
# take the bundles out of it and give them a direct shebang to nodejs-slim.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  # The Node that builds and tests the project (needs npm). Default: the caller passes
  # nodejs_22, the same major as the nodejs-slim_22 the bundles run on.
  nodejs,
  # Source tree with package.json, package-lock.json, .npmrc and what `npm run build` reads.
  src,
  # package.json and package-lock.json, parsed. Defaults: read from src. The flake passes its own
  # copies so that evaluation never reads from the filtered source (an eval-time read of a
  # store path that `nix flake check --no-build` has not added to the store fails).
  package ? lib.importJSON (src + "/package.json"),
  packageLock ? lib.importJSON (src + "/package-lock.json"),
  # Run the unit and local-runner integration tests (node --test) after the build. The tests
  # need no container engine; they spawn real processes, so the tools they call are listed in
  # `checkTools`.
  doCheck ? false,
  # How the tests run when doCheck is true: `node ARGS...` after the build. Default: the unit
  # tier of scripts/test.mjs, what `npm test` runs (everything under build/test but the
  # container tiers).
  testArgs ? [
    "scripts/test.mjs"
    "unit"
  ],
  # Programs the tests spawn besides node, put on PATH (setsid, script, ps, shells, curl).
  # Default: none; the flake passes util-linux, procps, bash, dash, coreutils and curl. The
  # sandbox has no /usr/bin: tests must find programs on PATH, not by FHS path.
  checkTools ? [ ],
  # Programs the tests must find by name but that may not go on PATH (busybox's applets would
  # shadow coreutils): name -> absolute path, exported as AIFO_TEST_PROG_<NAME> for the check.
  # Default: none.
  checkPrograms ? { },
}:

assert lib.assertMsg ((packageLock.lockfileVersion or 0) >= 2)
  "npm-project: package-lock.json has lockfileVersion ${toString (packageLock.lockfileVersion or "none")}; importNpmLock reads the `packages` map of version 2 or 3, so run `npm install --package-lock-only` with npm 7 or later";
assert lib.assertMsg (testArgs != [ ])
  "npm-project: testArgs is empty; give node's arguments for the tests, such as [ \"scripts/test.mjs\" \"unit\" ]";
buildNpmPackage {
  pname = package.name;
  inherit (package) version;
  inherit src nodejs doCheck;

  npmDeps = importNpmLock {
    npmRoot = src;
    inherit package packageLock;
  };
  # nixpkgs' doc (javascript.section.md, importNpmLock): npmHooks.npmConfigHook cannot be used
  # with importNpmLock; its own hook installs the patched lock file.
  npmConfigHook = importNpmLock.npmConfigHook;

  nativeCheckInputs = checkTools;
  checkPhase = ''
    runHook preCheck
    export HOME="$TMPDIR/home"
    mkdir -p "$HOME"
    ${lib.concatStringsSep "" (lib.mapAttrsToList (name: prog: "export AIFO_TEST_PROG_${lib.toUpper name}=${lib.escapeShellArg prog}\n") checkPrograms)}
    node ${lib.escapeShellArgs testArgs}
    runHook postCheck
  '';

  # The compiled tests and the checks/ acceptance suite, next to the package's node_modules so
  # that the NixOS VM test can run them with `node --test build/checks/`.
  postInstall = ''
    cp -R build "$out/lib/node_modules/${package.name}/build"
  '';

  meta = {
    description = package.description;
    license = lib.licenses.mit;
    mainProgram = "aifo";
  };
}
