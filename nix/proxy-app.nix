# The program of `nix run .#proxy -- ARGS`: `aifo proxy ARGS`. A flake app names one program
# without arguments, hence this two-line script; it execs, so signals and the exit status are the
# proxy's own.
{
  writeShellApplication,
  # `aifo` (./proxy.nix).
  proxy,
}:

writeShellApplication {
  name = "aifo-proxy";
  text = ''
    exec ${proxy}/bin/aifo proxy "$@"
  '';
}
