{
  description = "aifo-toolchain: the aifo-shim client, the toolexec proxy, the shell wrappers and layered OCI images for coding agents and toolchain sidecars";

  # The one input: nixpkgs on the current stable branch, pinned by flake.lock.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = lib.genAttrs systems;
      # Images, /opt/aifo/bin and the checks are Linux things; the proxy and the dev shell are
      # for every host.
      forLinux = lib.genAttrs (builtins.filter (lib.hasSuffix "-linux") systems);

      package = lib.importJSON ./package.json;
      packageLock = lib.importJSON ./package-lock.json;
      agentDefinition = lib.importJSON ./images/agent.json;
      toolchainDefinition = lib.importJSON ./images/toolchains.json;

      # What `npm run build` and the tests read. nix/ (except the image checker a test runs) and the
      # stand-in nixpkgs stay out, so editing them does not rebuild the npm project.
      src = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions (
          [
            ./package.json
            ./package-lock.json
            ./.npmrc
            ./tsconfig.json
            ./src
            ./scripts
            ./flake.nix
            ./flake.lock
            ./nix/checks/image-layout.mjs
          ]
          ++ map lib.fileset.maybeMissing [
            ./test
            ./bench
            ./images
          ]
          ++ [
            (lib.fileset.difference (lib.fileset.maybeMissing ./checks) (
              lib.fileset.maybeMissing ./checks/nixpkgs-standin
            ))
          ]
        );
      };

      kinds = builtins.attrNames toolchainDefinition.kinds;

      perSystem =
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          isLinux = lib.hasSuffix "-linux" system;

          # Like callPackage, but fills only arguments without a default from pkgs: a default is
          # never replaced by a package that happens to share its name (pkgs.kind, pkgs.tag, ...).
          call =
            file: args:
            let
              f = import file;
              required = lib.filterAttrs (_: hasDefault: !hasDefault) (builtins.functionArgs f);
            in
            f (builtins.intersectAttrs required pkgs // args);

          # crush is FSL-1.1-MIT, which nixpkgs counts as unfree: allowed for crush alone, and
          # only this package set (used for agent-image-crush) sees the exception.
          pkgsWithCrush = import nixpkgs {
            inherit system;
            config.allowUnfreePredicate = pkg: lib.getName pkg == "crush";
          };

          nodejs-slim = pkgs.nodejs-slim_22;
          # npm comes with the full Node; none of the runtime outputs may refer to it.
          disallowed = [ pkgs.nodejs_22 ];

          aifo-toolchain = call ./nix/npm-project.nix {
            inherit src package packageLock;
            nodejs = pkgs.nodejs_22;
          };
          proxy = call ./nix/proxy.nix {
            npmProject = aifo-toolchain;
            inherit nodejs-slim disallowed;
          };
          shim = call ./nix/shim.nix {
            npmProject = aifo-toolchain;
            inherit nodejs-slim disallowed;
          };

          aifo-root = call ./nix/aifo-root.nix {
            inherit proxy shim nodejs-slim disallowed;
            bash = pkgs.bashInteractive;
          };
          wrappers = call ./nix/wrappers.nix { aifoRoot = aifo-root; };
          users = call ./nix/users.nix { };
          packageMap = call ./nix/package-map.nix { };
          mkImage = args: call ./nix/image.nix args;

          agentImage =
            args:
            call ./nix/agent-image.nix (
              {
                inherit mkImage users packageMap;
                aifoRoot = aifo-root;
                definition = agentDefinition;
              }
              // args
            );
          toolchainImage =
            args:
            call ./nix/toolchain-image.nix (
              {
                inherit mkImage users packageMap;
                definition = toolchainDefinition;
              }
              // args
            );

          # Coding agents packaged in nixpkgs, by the short name used in the image name.
          agents = {
            codex = pkgs.codex;
            crush = pkgsWithCrush.crush;
            aider = pkgs.aider-chat;
          };

          # Every image as a function of the dockerTools builder: streamLayeredImage for the
          # packages, buildLayeredImage for the -tarball variants.
          imageSpecs = {
            agent-image = b: agentImage { build = b; };
            agent-image-full = b: agentImage {
              build = b;
              flavor = "full";
            };
          }
          // lib.mapAttrs' (
            name: agent:
            lib.nameValuePair "agent-image-${name}" (
              b:
              agentImage {
                build = b;
                inherit agent;
                agentName = name;
              }
            )
          ) agents
          // lib.listToAttrs (
            map (
              kind:
              lib.nameValuePair "toolchain-image-${kind}" (
                b:
                toolchainImage {
                  build = b;
                  inherit kind;
                }
              )
            ) kinds
          );
          images = lib.mapAttrs (_: spec: spec null) imageSpecs;
          tarballs = lib.mapAttrs' (
            name: spec: lib.nameValuePair "${name}-tarball" (spec pkgs.dockerTools.buildLayeredImage)
          ) imageSpecs;

          load-images = call ./nix/load-images.nix { inherit images; };
          proxyApp = call ./nix/proxy-app.nix { inherit proxy; };

          toolchainImages = lib.genAttrs kinds (kind: images."toolchain-image-${kind}");

          # Layout checks of the core images. Budgets are ceilings against gross mistakes (a
          # toolchain in the agent image, npm in the closure), not measurements: tighten them
          # after the first real build.
          layoutCheck = args: call ./nix/checks/image-layout.nix ({ inherit nodejs-slim; } // args);
          hash = "^[0-9a-z]{32}-";
          notInAgent = [
            "${hash}curl-[0-9]"
            "-npm$"
            "${hash}nodejs-[0-9]"
            "${hash}gcc-wrapper-"
            "${hash}rustc-"
            "${hash}go-[0-9]"
            "${hash}python3-[0-9]"
          ];
          agentPaths = [
            "/bin/sh"
            "/bin/bash"
            "/bin/dash"
            "/usr/bin/env"
            "/etc/ssl/certs/ca-bundle.crt"
          ];
          toolchainPaths = [
            "/bin/sh"
            "/bin/sleep"
            "/bin/setsid"
            "/bin/ps"
            "/usr/bin/env"
          ];
          toolchainBudgetMiB = {
            rust = 3072;
            node = 1024;
            python = 1536;
            c-cpp = 3072;
            go = 1536;
          };
          mib = n: n * 1024 * 1024;
        in
        {
          packages = {
            inherit aifo-toolchain proxy shim;
            default = proxy;
          }
          // lib.optionalAttrs isLinux (
            {
              inherit
                wrappers
                aifo-root
                load-images
                ;
            }
            // images
            // tarballs
          );

          apps = {
            proxy = {
              type = "app";
              program = "${proxyApp}/bin/aifo-proxy";
              meta.description = "Run the toolexec proxy: aifo proxy ARGS";
            };
            default = self.apps.${system}.proxy;
          }
          // lib.optionalAttrs isLinux {
            load-images = {
              type = "app";
              program = "${load-images}/bin/aifo-load-images";
              meta.description = "Stream every image (or the ones named) into docker load";
            };
          };

          devShells.default = call ./nix/dev-shell.nix {
            inherit nodejs-slim isLinux;
            nodejs = pkgs.nodejs_22;
            bash = pkgs.bashInteractive;
          };

          checks = lib.optionalAttrs isLinux (
            {
              unit-and-integration = call ./nix/npm-project.nix {
                inherit src package packageLock;
                nodejs = pkgs.nodejs_22;
                doCheck = true;
                # On PATH for the tests: setsid and script, ps, the shells the wrappers are
                # tested under, curl for the shim's fallback transport. Not busybox: its applets
                # would shadow these; the tests find it through AIFO_TEST_PROG_BUSYBOX.
                checkTools = [
                  pkgs.util-linux
                  pkgs.procps
                  pkgs.bashInteractive
                  pkgs.dash
                  pkgs.coreutils
                  pkgs.curl
                ];
                checkPrograms = {
                  busybox = "${pkgs.busybox}/bin/busybox";
                };
              };
              bundle-smoke = call ./nix/checks/bundle-smoke.nix {
                inherit shim proxy;
                aifoRoot = aifo-root;
              };
              image-layout-agent = layoutCheck {
                image = images.agent-image;
                aifoRoot = aifo-root;
                paths = agentPaths;
                forbidStore = notInAgent;
                requireStore = [ "${hash}nodejs-slim-22" ];
                maxBytes = mib 400;
                maxStorePaths = 150;
              };
              image-layout-agent-full = layoutCheck {
                image = images.agent-image-full;
                aifoRoot = aifo-root;
                paths = agentPaths;
                forbidStore = builtins.filter (re: re != "${hash}curl-[0-9]") notInAgent;
                requireStore = [
                  "${hash}nodejs-slim-22"
                  "${hash}curl-[0-9]"
                ];
                maxBytes = mib 450;
                maxStorePaths = 200;
              };
            }
            // lib.listToAttrs (
              map (
                kind:
                lib.nameValuePair "image-layout-toolchain-${kind}" (layoutCheck {
                  image = toolchainImages.${kind};
                  paths = toolchainPaths;
                  # Sidecars run tools, they are never agents: no shim directory.
                  forbidStore = [ "${hash}aifo-" ];
                  maxBytes = mib toolchainBudgetMiB.${kind};
                })
              ) kinds
            )
            // lib.optionalAttrs (system == "x86_64-linux") {
              vm-acceptance = call ./nix/checks/vm-acceptance.nix {
                nodejs = pkgs.nodejs_22;
                npmProject = aifo-toolchain;
                inherit proxy toolchainImages;
                agentImage = images.agent-image;
                loadImages = call ./nix/load-images.nix {
                  images = {
                    inherit (images) agent-image;
                  }
                  // lib.mapAttrs' (kind: img: lib.nameValuePair "toolchain-image-${kind}" img) toolchainImages;
                };
              };
            }
          );
        };

      bySystem = forAllSystems perSystem;
    in
    {
      packages = lib.mapAttrs (_: s: s.packages) bySystem;
      apps = lib.mapAttrs (_: s: s.apps) bySystem;
      devShells = lib.mapAttrs (_: s: s.devShells) bySystem;
      checks = forLinux (system: bySystem.${system}.checks);
    };
}
