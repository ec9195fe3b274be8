# Assertions on the flake's evaluated outputs (run by scripts/ci-nix.sh against the stand-in
# nixpkgs of checks/nixpkgs-standin): image Env, Cmd, contents and writable directories, app
# programs, the dev shell hook, which checks exist where, and the closure guards. Returns the list
# of failures, one string each; [] when all hold. Names are compared with lib.getName, which is
# the same for the stand-in's placeholders and nixpkgs' packages.
{
  lib,
  # The flake's outputs.
  outputs,
  # images/agent.json and images/toolchains.json, parsed.
  agentDefinition,
  toolchainDefinition,
}:

let
  inherit (outputs)
    packages
    apps
    devShells
    checks
    ;
  linux = [
    "x86_64-linux"
    "aarch64-linux"
  ];
  darwin = [
    "x86_64-darwin"
    "aarch64-darwin"
  ];
  kinds = builtins.attrNames toolchainDefinition.kinds;
  agents = [
    "codex"
    "crush"
    "aider"
  ];
  imageNames = [
    "agent-image"
    "agent-image-full"
  ]
  ++ map (a: "agent-image-${a}") agents
  ++ map (k: "toolchain-image-${k}") kinds;

  # expect: condition, message when it does not hold.
  expect = cond: msg: lib.optional (!cond) msg;
  names = drvs: map lib.getName drvs;
  has = name: drvs: builtins.elem name (names drvs);
  hasSuffix = lib.hasSuffix;

  perLinux =
    system:
    let
      p = packages.${system};
      agent = p.agent-image.aifo;
      full = p.agent-image-full.aifo;
      at = "${system}";
    in
    builtins.concatLists [
      (builtins.concatMap (n: expect (p ? ${n}) "${at}: packages.${n} is missing") (
        imageNames
        ++ map (n: "${n}-tarball") imageNames
        ++ [
          "aifo-toolchain"
          "proxy"
          "shim"
          "default"
          "wrappers"
          "aifo-root"
          "load-images"
        ]
      ))
      (expect (p.default.outPath == p.proxy.outPath) "${at}: packages.default is not the proxy")

      # The agent image: the environment of images/agent.json, shim first on PATH, wrapper SHELL.
      (expect (lib.hasPrefix "/opt/aifo/bin:" agent.env.PATH) "${at}: agent-image PATH does not start with /opt/aifo/bin: (${agent.env.PATH})")
      (expect (agent.env.SHELL == "/opt/aifo/bin/sh") "${at}: agent-image SHELL is ${agent.env.SHELL}, expected /opt/aifo/bin/sh")
      (builtins.concatMap (
        k: expect ((agent.env.${k} or null) == agentDefinition.env.${k}) "${at}: agent-image Env ${k} differs from images/agent.json"
      ) (builtins.attrNames agentDefinition.env))
      (expect (agent.cmd == [ "/bin/bash" ]) "${at}: agent-image Cmd is ${builtins.toJSON agent.cmd}")
      (expect (agent.created == "1970-01-01T00:00:01Z") "${at}: agent-image created is ${agent.created}, not fixed")
      (expect (builtins.elem "/tmp" agent.writableDirs) "${at}: agent-image does not make /tmp 1777")
      (builtins.concatMap (d: expect (builtins.elem d agent.writableDirs) "${at}: agent-image lacks writable dir ${d}") agentDefinition.writableDirs)
      (builtins.concatMap (n: expect (has n agent.contents) "${at}: agent-image contents lack ${n} (has ${toString (names agent.contents)})") [
        "nodejs-slim"
        "bash-interactive"
        "dash"
        "coreutils"
        "procps"
        "ca-certificates"
        "fake-nss"
        "usr-bin-env"
      ])
      (expect (!(has "curl" agent.contents)) "${at}: the slim agent-image has curl")
      (expect (!(has "nodejs" agent.contents)) "${at}: agent-image has the full nodejs (npm); it must use nodejs-slim")
      (expect (has "curl" full.contents) "${at}: agent-image-full lacks curl")
      (expect (full.labels."org.aifo.flavor" == "full") "${at}: agent-image-full is not labelled flavor=full")
      (expect (p.agent-image-codex.aifo.cmd == [ "codex" ]) "${at}: agent-image-codex Cmd is ${builtins.toJSON p.agent-image-codex.aifo.cmd}")
      (expect (p.agent-image-aider.aifo.cmd == [ "aider" ]) "${at}: agent-image-aider Cmd is ${builtins.toJSON p.agent-image-aider.aifo.cmd}")
      (expect (p.agent-image-crush.aifo.cmd == [ "crush" ]) "${at}: agent-image-crush Cmd is ${builtins.toJSON p.agent-image-crush.aifo.cmd}")
      (expect (has "crush" p.agent-image-crush.aifo.contents) "${at}: agent-image-crush lacks crush")

      # Toolchain images: common packages, the kind's packages, the definition's environment.
      (builtins.concatMap (
        k:
        let
          img = p."toolchain-image-${k}".aifo;
          def = toolchainDefinition.kinds.${k};
          env = (toolchainDefinition.common.env or { }) // (def.env or { });
        in
        builtins.concatLists [
          (builtins.concatMap (n: expect (has n img.contents) "${at}: toolchain-image-${k} lacks ${n}") [
            "util-linux"
            "procps"
            "bash-interactive"
            "coreutils"
          ])
          (builtins.concatMap (v: expect ((img.env.${v} or null) == env.${v}) "${at}: toolchain-image-${k} Env ${v} differs from images/toolchains.json") (builtins.attrNames env))
          (expect (lib.hasPrefix "/opt/aifo" (img.env.PATH or "") == false) "${at}: toolchain-image-${k} has the shim on PATH")
          (expect (img.cmd == [ "sleep" "infinity" ]) "${at}: toolchain-image-${k} Cmd is ${builtins.toJSON img.cmd}")
          (builtins.concatMap (d: expect (builtins.elem d img.writableDirs) "${at}: toolchain-image-${k} lacks writable dir ${d}") (def.writableDirs or [ ]))
          (expect (img.labels."org.aifo.kind" == k) "${at}: toolchain-image-${k} is labelled kind ${img.labels."org.aifo.kind" or "none"}")
        ]
      ) kinds)
      (expect (has "rustc" p.toolchain-image-rust.aifo.contents && has "cargo" p.toolchain-image-rust.aifo.contents) "${at}: toolchain-image-rust lacks rustc or cargo")
      (expect (has "nodejs" p.toolchain-image-node.aifo.contents) "${at}: toolchain-image-node lacks the full nodejs (npm)")
      (expect (has "go" p.toolchain-image-go.aifo.contents) "${at}: toolchain-image-go lacks go")
      (expect (has "gcc-wrapper" p.toolchain-image-c-cpp.aifo.contents && has "clang-wrapper" p.toolchain-image-c-cpp.aifo.contents) "${at}: toolchain-image-c-cpp lacks gcc or clang")

      # Runtime closures: npm and the build Node are disallowed; the shim dir names the slim node.
      (builtins.concatMap (
        n: expect (has "nodejs" p.${n}.disallowedRequisites) "${at}: ${n} does not disallow the full nodejs (npm) in its closure"
      ) [ "proxy" "shim" "aifo-root" ])
      (expect (hasSuffix "/bin/node" p.aifo-root.node && lib.hasInfix "nodejs-slim" p.aifo-root.node) "${at}: aifo-root's shim shebang is ${p.aifo-root.node}, expected nodejs-slim's bin/node")
      (expect (baseNameOf p.aifo-root.realShells.sh == "sh") "${at}: aifo-root's real sh ${p.aifo-root.realShells.sh} is not named sh")

      # Apps.
      (expect (apps.${system}.proxy.type == "app" && hasSuffix "/bin/aifo-proxy" apps.${system}.proxy.program) "${at}: apps.proxy is not the aifo-proxy program")
      (expect (apps.${system}.default.program == apps.${system}.proxy.program) "${at}: apps.default is not apps.proxy")
      (expect (hasSuffix "/bin/aifo-load-images" (apps.${system}.load-images.program or "")) "${at}: apps.load-images is missing or not aifo-load-images")
      (expect (builtins.sort builtins.lessThan (builtins.attrNames p.load-images.images) == builtins.sort builtins.lessThan imageNames) "${at}: load-images does not stream every image")

      # Dev shell and checks.
      (expect (lib.hasInfix "AIFO_SHIM_DIR" devShells.${system}.default.shellHook) "${at}: the dev shell hook does not set AIFO_SHIM_DIR")
      (builtins.concatMap (c: expect (checks.${system} ? ${c}) "${at}: checks.${c} is missing") (
        [
          "unit-and-integration"
          "bundle-smoke"
          "image-layout-agent"
          "image-layout-agent-full"
        ]
        ++ map (k: "image-layout-toolchain-${k}") kinds
      ))
      (expect (checks.${system}.unit-and-integration.doCheck or false) "${at}: checks.unit-and-integration does not run the tests")
      (expect ((checks.${system} ? vm-acceptance) == (system == "x86_64-linux")) "${at}: the NixOS VM test must exist on x86_64-linux only")
    ];

  perDarwin =
    system:
    builtins.concatLists [
      (builtins.concatMap (n: expect (packages.${system} ? ${n}) "${system}: packages.${n} is missing") [
        "proxy"
        "shim"
        "aifo-toolchain"
        "default"
      ])
      (expect (!(packages.${system} ? agent-image)) "${system}: images are Linux-only, yet packages.agent-image exists")
      (expect (!(apps.${system} ? load-images)) "${system}: apps.load-images exists on a host without Linux images")
      (expect (hasSuffix "/bin/aifo-proxy" apps.${system}.proxy.program) "${system}: apps.proxy is not aifo-proxy")
      (expect (!(lib.hasInfix "AIFO_SHIM_DIR" devShells.${system}.default.shellHook)) "${system}: the dev shell sets AIFO_SHIM_DIR to a non-Linux build")
      (expect (!(checks ? ${system})) "${system}: checks exist for a non-Linux system")
    ];
in
builtins.concatMap perLinux linux ++ builtins.concatMap perDarwin darwin
