// Names on the wire, shared by every client and server of the toolexec protocol
// (../shared/protocol.md). Changing any of these breaks compatibility with the Rust shim/proxy.

export const PATH_EXEC = '/exec';
export const PATH_SIGNAL = '/signal';
export const PATH_NOTIFY = '/notify';
export const KNOWN_PATHS: readonly string[] = [PATH_EXEC, PATH_SIGNAL, PATH_NOTIFY];

/** Lower-case header names (Node lower-cases incoming names). */
export const H_AUTHORIZATION = 'authorization';
export const H_PROTO = 'x-aifo-proto';
export const H_EXEC_ID_REQUEST = 'x-aifo-exec-id';
export const H_EXEC_ID_RESPONSE = 'X-Exec-Id';
export const H_EXIT_CODE = 'X-Exit-Code';
export const H_END = 'X-Aifo-End';
export const H_CLIENT = 'X-Aifo-Client';
/**
 * Extension (ours): `X-Aifo-Tty: 0` asks for no terminal even where the proxy defaults to one
 * for v2. The shim sends 0 when its own stdout is not a terminal, so `$(tool)`, pipes and files
 * get the tool's bytes, not a pty's CRLF line endings. Other proxies ignore the header.
 */
export const H_TTY = 'x-aifo-tty';

export type ProtoVersion = 1 | 2;

/** Parses the `X-Aifo-Proto` value; anything but `1` or `2` (trimmed) is unsupported. */
export function parseProto(value: string | undefined): ProtoVersion | undefined {
  const v = value?.trim();
  if (v === '1') return 1;
  if (v === '2') return 2;
  return undefined;
}

/** Form field names. */
export const F_TOOL = 'tool';
export const F_CWD = 'cwd';
export const F_ARG = 'arg';
export const F_EXEC_ID = 'exec_id';
export const F_SIGNAL = 'signal';
export const F_CMD = 'cmd';

export const CONTENT_TYPE_TEXT = 'text/plain; charset=utf-8';
export const CONTENT_TYPE_FORM = 'application/x-www-form-urlencoded';

/** Request limits (protocol.md "Requests"). */
export const LIMITS = {
  bodyBytes: 2 * 1024 * 1024,
  headerBytes: 64 * 1024,
  toolBytes: 64,
  cwdBytes: 4096,
  argCount: 8192,
  argBytes: 128 * 1024,
  cmdBytes: 128,
} as const;

export const DEFAULT_WORKSPACE = '/workspace';

/** Exit status used by shim and proxy for protocol/transport errors (not a tool's own code). */
export const EXIT_PROTOCOL_ERROR = 86;
/** Exit status for a run ended by the max-runtime watcher (as coreutils `timeout`). */
export const EXIT_TIMEOUT = 124;
