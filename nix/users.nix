# /etc/passwd, /etc/group and /etc/nsswitch.conf for the images: nixpkgs' fakeNss (root and
# nobody) plus one login user, `coder`, whose home is the images' HOME. Tools that look up their
# own user (ssh, git, npm, pip) need an entry. The images set no `User`, like the Debian ones:
# `aifo` starts containers as the caller's uid:gid, and 1000:1000 is the common case.
{
  lib,
  dockerTools,
  # The user's name, numeric ids and home. Defaults: coder, 1000:1000, /home/coder (HOME in
  # images/agent.json and images/toolchains.json).
  name ? "coder",
  uid ? 1000,
  gid ? 1000,
  home ? "/home/${name}",
  # Login shell written to passwd. Default: the wrapper, as SHELL in the agent image.
  shell ? "/opt/aifo/bin/sh",
}:

assert lib.assertMsg (builtins.match "[a-z_][a-z0-9_-]*" name != null)
  "users: name ${name} is not a valid user name; use lowercase letters, digits, _ and -";
assert lib.assertMsg (uid > 0 && gid > 0)
  "users: uid ${toString uid} / gid ${toString gid}: 0 is root, which fakeNss already has; pick ids > 0 such as 1000";
dockerTools.fakeNss.override {
  extraPasswdLines = [ "${name}:x:${toString uid}:${toString gid}:${name}:${home}:${shell}" ];
  extraGroupLines = [ "${name}:x:${toString gid}:" ];
}
