# The checks/ acceptance suite (phase 4) against the Nix images, in a NixOS VM with Docker: the
# same node:test suite npm runs against the Debian-built images, here with the streamed images
# loaded into the VM's engine. A container engine needs a VM in Nix (sandboxed builds have none),
# hence testers.runNixOSTest rather than a runCommand check.
#
# The suite reads which images and which `aifo` to use from the environment (names below); the
# images are loaded under their own names (aifo-agent:nix, aifo-toolchain-<kind>:nix).
{
  lib,
  testers,
  # Node that runs the suite inside the VM. Default: the caller passes nodejs_22.
  nodejs,
  # The built npm project (./npm-project.nix); its build/checks/ holds the compiled suite.
  npmProject,
  # `aifo` (./proxy.nix), the program under test.
  proxy,
  # ./load-images.nix output for exactly the images the suite uses.
  loadImages,
  # The agent image and the toolchain images by kind (results of ./image.nix).
  agentImage,
  toolchainImages,
  # Directory under the package that holds the compiled suite. Default: build/checks.
  suiteDir ? "build/checks",
  # VM size: the toolchain images are large. Defaults: 16 GiB disk, 4 GiB memory, 4 cores.
  diskSize ? 16384,
  memorySize ? 4096,
  cores ? 4,
}:

let
  ref = img: "${img.aifo.name}:${img.aifo.tag}";
  env = {
    AIFO_CHECKS_AIFO = "${proxy}/bin/aifo";
    AIFO_CHECKS_AGENT_IMAGE = ref agentImage;
  }
  // lib.mapAttrs' (
    kind: img: lib.nameValuePair "AIFO_CHECKS_TOOLCHAIN_IMAGE_${lib.toUpper (lib.replaceStrings [ "-" ] [ "_" ] kind)}" (ref img)
  ) toolchainImages;
  envArgs = lib.concatStringsSep " " (lib.mapAttrsToList (k: v: "${k}=${lib.escapeShellArg v}") env);
  packageDir = "${npmProject}/lib/node_modules/aifo-toolchain";
in
assert lib.assertMsg (toolchainImages != { })
  "vm-acceptance: toolchainImages is empty; pass the toolchain images by kind (rust, node, ...)";
testers.runNixOSTest {
  name = "aifo-acceptance";
  nodes.machine = {
    virtualisation.docker.enable = true;
    virtualisation.diskSize = diskSize;
    virtualisation.memorySize = memorySize;
    virtualisation.cores = cores;
    environment.systemPackages = [ nodejs ];
  };
  testScript = ''
    machine.wait_for_unit("docker.service")
    machine.succeed("${loadImages}/bin/${loadImages.meta.mainProgram or "aifo-load-images"} >&2")
    machine.succeed("docker image inspect ${lib.escapeShellArgs (map ref ([ agentImage ] ++ builtins.attrValues toolchainImages))} >/dev/null")
    machine.succeed(
        "cd ${packageDir} && env ${envArgs} node --test --test-concurrency=1 ${suiteDir} >&2",
        timeout=3600,
    )
  '';
}
