// The proxy's stderr log. The verbose lines are golden (protocol.md "Proxy verbose log lines"):
// tests compare them, so their text changes only with the protocol document.

export interface Logger {
  /** Always printed. */
  info(line: string): void;
  /** Printed with --verbose only. */
  verbose(line: string): void;
  readonly isVerbose: boolean;
}

export function createLogger(verbose: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): Logger {
  return {
    isVerbose: verbose,
    info: (line) => write(line + '\n'),
    verbose: (line) => {
      if (verbose) write(line + '\n');
    },
  };
}

const SECRET_FLAGS = new Set(['--token', '--password', '--api-key', '--key']);

/** Hides values that look like secrets before an argv is logged (reference §2.13). */
export function redactArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  let hideNext = false;
  for (const a of args) {
    if (hideNext) {
      out.push('***');
      hideNext = false;
      continue;
    }
    const lower = a.toLowerCase();
    if (SECRET_FLAGS.has(lower)) {
      out.push(a);
      hideNext = true;
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0 && SECRET_FLAGS.has(lower.slice(0, eq))) {
      out.push(a.slice(0, eq + 1) + '***');
      continue;
    }
    const b = lower.indexOf('bearer ');
    out.push(b >= 0 ? a.slice(0, b + 'bearer '.length) + '***' : a);
  }
  return out;
}

/** Shell-style join for logs only: bare when safe, else single-quoted. Never executed. */
export function shellJoin(args: readonly string[]): string {
  return args
    .map((a) => {
      if (a === '') return "''";
      if (/^[A-Za-z0-9\-_=./:@]+$/.test(a)) return a;
      return "'" + a.replace(/'/g, `'"'"'`) + "'";
    })
    .join(' ');
}

export const logLines = {
  parsed: (tool: string, args: readonly string[], cwd: string) =>
    `aifo-coder: proxy parsed tool=${tool} argv=${shellJoin(redactArgs(args))} cwd=${cwd}`,
  execMode: (proto: 1 | 2) =>
    proto === 2 ? 'aifo-coder: proxy exec: proto=v2 (streaming)' : 'aifo-coder: proxy exec: proto=v1 (buffered)',
  result: (tool: string, kind: string, code: number, durMs: number) =>
    `aifo-coder: proxy result tool=${tool} kind=${kind} code=${code} dur_ms=${Math.round(durMs)}`,
  disconnect: () => 'aifo-coder: disconnect',
  escalate: (sig: string, execId: string) => `aifo-coder: disconnect escalate: sending ${sig} to exec_id=${execId}`,
  maxRuntime: (sig: string, execId: string, secs: number) =>
    `aifo-coder: max-runtime: sending ${sig} to exec_id=${execId} after ${secs}s`,
  signal: (execId: string, sig: string) => `aifo-coder: proxy signal: exec_id=${execId} sig=${sig}`,
};
