# `aifo-load-images [NAME...]`: streams images (dockerTools.streamLayeredImage scripts) into
# `docker load`, all of them when no name is given. Nothing is written to the store or to disk
# on the way. The engine is the host's own: $AIFO_CONTAINER_ENGINE (default docker; podman load
# reads the same archive).
{
  lib,
  writeShellApplication,
  # Attribute set of name -> streamed image (the flake's image packages).
  images,
  # Program name. Default: aifo-load-images.
  name ? "aifo-load-images",
}:

let
  names = builtins.attrNames images;
  cases = lib.concatMapStringsSep "\n" (n: "    ${n}) stream=${images.${n}} ;;") names;
in
assert lib.assertMsg (names != [ ]) "load-images: images is empty; pass the image packages to load";
writeShellApplication {
  inherit name;
  text = ''
    engine="''${AIFO_CONTAINER_ENGINE:-docker}"
    if [ "$#" -eq 0 ]; then
      set -- ${lib.escapeShellArgs names}
    fi
    for image in "$@"; do
      case "$image" in
    ${cases}
        *)
          echo "${name}: no image named '$image'; known: ${lib.concatStringsSep " " names}" >&2
          exit 2
          ;;
      esac
      echo "${name}: $image" >&2
      "$stream" | "$engine" load
    done
  '';
  passthru = { inherit images; };
}
