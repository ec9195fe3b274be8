// `aifo proxy`: options validated here, where they enter; then the server runs until SIGINT or
// SIGTERM, which escalate running execs before the listener and its socket go away.
import { open, readFile } from 'node:fs/promises';
import { AifoError } from '../protocol/errors.js';
import { isToolchainKind, type ToolchainKind } from '../protocol/tools.js';
import { newToken } from '../proxy/auth.js';
import { clientUrl, listen, parseListen } from '../proxy/listen.js';
import { createLogger } from '../proxy/log.js';
import { createLocalRunner } from '../proxy/runners/local.js';
import type { Runner } from '../proxy/runners/types.js';
import { createNotifyHandler, notifyOptionsFromEnv } from '../proxy/notifications.js';
import { createProxyServer, DEFAULT_MAX_EXECS } from '../proxy/server.js';

export interface ProxyCliOptions {
  readonly listen: string;
  readonly tokenFile?: string | undefined;
  readonly runner?: 'local' | 'docker' | undefined;
  readonly workspace?: string | undefined;
  readonly maxSecs?: number | undefined;
  readonly maxExecs?: number | undefined;
  readonly verbose?: boolean | undefined;
  readonly sidecar?: readonly string[] | undefined;
  readonly socketMode?: string | undefined;
}

/** Reads the token from the environment, a file, or makes one (never from argv: `ps` shows it). */
export async function resolveToken(env: NodeJS.ProcessEnv, tokenFile: string | undefined): Promise<string> {
  const fromEnv = env['AIFO_TOOLEEXEC_TOKEN']?.trim();
  if (fromEnv) return fromEnv;
  if (tokenFile) {
    try {
      const t = (await readFile(tokenFile, 'utf8')).trim();
      if (!t) throw new AifoError('AIFO_E_CONFIG', `--token-file '${tokenFile}' is empty`);
      return t;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // Create it 0600 before a byte of the token is written ('wx': never follow or reuse a file).
    const token = newToken();
    const fh = await open(tokenFile, 'wx', 0o600);
    try {
      await fh.writeFile(token + '\n');
    } finally {
      await fh.close();
    }
    return token;
  }
  return newToken();
}

/** AIFO_TOOLEEXEC_MAX_SECS (or legacy AIFO_TOOLEEXEC_TIMEOUT_SECS); a non-integer is an error. */
export function maxSecsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  for (const name of ['AIFO_TOOLEEXEC_MAX_SECS', 'AIFO_TOOLEEXEC_TIMEOUT_SECS']) {
    const v = env[name]?.trim();
    if (v === undefined || v === '') continue;
    if (!/^\d{1,9}$/.test(v)) throw new AifoError('AIFO_E_CONFIG', `${name}='${v}' is not a whole number of seconds`);
    return Number(v);
  }
  return undefined;
}

export function parseSidecars(specs: readonly string[]): Map<ToolchainKind, string> {
  const map = new Map<ToolchainKind, string>();
  for (const s of specs) {
    const m = /^([a-z-]+)=([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(s);
    if (!m || !isToolchainKind(m[1]!)) {
      throw new AifoError('AIFO_E_CONFIG', `--sidecar '${s}': expected KIND=CONTAINER with KIND one of rust node python c-cpp go`);
    }
    map.set(m[1] as ToolchainKind, m[2]!);
  }
  return map;
}

export type RunnerFactory = (sidecars: Map<ToolchainKind, string>, verbose: boolean) => Promise<Runner>;

export async function runProxy(opts: ProxyCliOptions, dockerRunner?: RunnerFactory): Promise<void> {
  const verbose = opts.verbose === true || process.env['AIFO_TOOLCHAIN_VERBOSE'] === '1';
  const log = createLogger(verbose);
  const addr = parseListen(opts.listen);
  // Validate every input before anything is started or logged.
  const maxSecs = opts.maxSecs ?? maxSecsFromEnv(process.env);
  if (maxSecs !== undefined && (!Number.isInteger(maxSecs) || maxSecs < 0)) {
    throw new AifoError('AIFO_E_CONFIG', `--max-secs ${maxSecs} is not a whole number of seconds`);
  }
  const sidecars = parseSidecars(opts.sidecar ?? []);
  const runnerName = opts.runner ?? (sidecars.size > 0 ? 'docker' : 'local');
  let runner: Runner;
  let workspace: string;
  if (runnerName === 'docker') {
    if (!dockerRunner) throw new AifoError('AIFO_E_CONFIG', 'the docker runner is not available in this build');
    runner = await dockerRunner(sidecars, verbose);
    workspace = opts.workspace ?? '/workspace';
  } else {
    runner = createLocalRunner();
    workspace = opts.workspace ?? process.cwd();
    log.info(`aifo-coder: proxy runner=local: tools run on THIS machine, not in containers (workspace ${workspace})`);
  }
  // Tools a killed predecessor left running are stopped before we serve (issue 7).
  await runner.reapOrphans(log.info);
  const tty = process.env['AIFO_TOOLEEXEC_TTY'] !== '0';
  const token = await resolveToken(process.env, opts.tokenFile);
  const proxy = createProxyServer({
    token,
    runner,
    workspace,
    log,
    maxSecs,
    maxExecs: opts.maxExecs ?? DEFAULT_MAX_EXECS,
    tty,
    notify: createNotifyHandler(notifyOptionsFromEnv(process.env, log)),
  });
  const mode = opts.socketMode ? parseInt(opts.socketMode, 8) : undefined;
  if (mode !== undefined && mode !== 0o600 && mode !== 0o660) {
    throw new AifoError('AIFO_E_CONFIG', `--socket-mode '${opts.socketMode}': only 600 or 660 are allowed`);
  }
  const bound = await listen(proxy.server, addr, mode === undefined ? {} : { mode });

  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.verbose(`aifo-coder: proxy stopping on ${sig}`);
    void proxy
      .shutdown()
      .then(() => runner.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Ready lines last: whoever reads them may signal us at once, so the handlers must be in place.
  process.stdout.write(`AIFO_TOOLEEXEC_URL=${clientUrl(bound)}\nAIFO_TOOLEEXEC_TOKEN=${token}\n`);
}
