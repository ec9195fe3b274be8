// POST /notify: run the user's configured host notification command (`say` by default) under a
// strict policy (protocol.md "Notifications"; reference §1.10): the command comes from the
// user's configuration, never from the request; the request may only name it and fill a
// trailing `{args}` placeholder, or repeat the configured arguments exactly.
import { spawn } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AifoError } from '../protocol/errors.js';
import type { FormPair } from '../protocol/form.js';
import type { ProtoVersion } from '../protocol/wire.js';
import { redactArgs, shellJoin, type Logger } from './log.js';
import { notifyFields } from './request.js';
import type { NotifyHandler } from './server.js';

export const DEFAULT_SAFE_DIRS: readonly string[] = ['/usr/bin', '/bin', '/usr/local/bin', '/opt/homebrew/bin'];
export const DEFAULT_ALLOWLIST: readonly string[] = ['say'];
/** Reference §1.10: 5 s unless configured; a notification is a short host command. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** After TERM on timeout, how long the command may take to exit before KILL. */
const TERM_GRACE_MS = 250;
/** Output kept per stream; a notification prints little, and the body must stay small. */
const MAX_OUTPUT_BYTES = 64 * 1024;
/** Request arguments that may fill `{args}` (reference: AIFO_NOTIFICATIONS_MAX_ARGS, default 8). */
const DEFAULT_MAX_PLACEHOLDER_ARGS = 8;
const PLACEHOLDER = '{args}';

export interface NotifyOptions {
  /** YAML file with `notifications-command`; default AIFO_NOTIFICATIONS_CONFIG or ~/.aider.conf.yml. */
  readonly configPath: string;
  readonly timeoutMs: number;
  /** Executable basenames allowed (default `say`). */
  readonly allowlist: readonly string[];
  /** Directories the executable's real path must lie in. */
  readonly safeDirs: readonly string[];
  readonly maxPlaceholderArgs: number;
  readonly log?: Logger | undefined;
}

function listEnv(v: string | undefined, max: number): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean).slice(0, max);
}

/** Options from the proxy's environment (names as in the reference, §1.10). */
export function notifyOptionsFromEnv(env: NodeJS.ProcessEnv, log?: Logger): NotifyOptions {
  const secs = Number(env['AIFO_NOTIFICATIONS_TIMEOUT_SECS']);
  const maxArgs = Number(env['AIFO_NOTIFICATIONS_MAX_ARGS']);
  return {
    configPath: env['AIFO_NOTIFICATIONS_CONFIG']?.trim() || path.join(os.homedir(), '.aider.conf.yml'),
    timeoutMs: secs > 0 ? secs * 1000 : DEFAULT_TIMEOUT_MS,
    allowlist: [...new Set([...DEFAULT_ALLOWLIST, ...listEnv(env['AIFO_NOTIFICATIONS_ALLOWLIST'], 16)])].slice(0, 16),
    safeDirs: env['AIFO_NOTIFICATIONS_UNSAFE_ALLOWLIST'] === '1' && env['AIFO_NOTIFICATIONS_SAFE_DIRS']
      ? listEnv(env['AIFO_NOTIFICATIONS_SAFE_DIRS'], 16)
      : DEFAULT_SAFE_DIRS,
    maxPlaceholderArgs: Number.isInteger(maxArgs) ? Math.min(32, Math.max(1, maxArgs)) : DEFAULT_MAX_PLACEHOLDER_ARGS,
    log,
  };
}

function refuse(reason: string): AifoError {
  return new AifoError('AIFO_E_FORBIDDEN', reason);
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}

/** Shell-like split: whitespace separates, single and double quotes group, no escapes. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let has = false;
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (quote) throw refuse('invalid notifications-command: unterminated quote');
  if (has || cur) out.push(cur);
  return out;
}

/**
 * Reads `notifications-command` from the YAML config: a flow sequence (`["say", "{args}"]`), a
 * block sequence (`- say` lines), or a string split shell-like. Only this key is read.
 */
export function parseNotificationsCommand(text: string, configPath: string): string[] {
  const lines = text.replace(/\\n\s*$/, '').split(/\r?\n/);
  const i = lines.findIndex((l) => /^notifications-command\s*:/.test(l));
  if (i < 0) throw refuse(`notifications-command not found in ${configPath}`);
  const value = lines[i]!.replace(/^notifications-command\s*:/, '').replace(/\s+#.*$/, '').trim();
  let words: string[];
  if (value === '') {
    words = [];
    for (const l of lines.slice(i + 1)) {
      const m = /^\s+-\s*(.*)$/.exec(l);
      if (!m) {
        if (/^\s*(#.*)?$/.test(l)) continue;
        break;
      }
      words.push(unquote(m[1]!));
    }
  } else if (value.startsWith('[')) {
    if (!value.endsWith(']')) throw refuse('invalid notifications-command: unterminated [ ] sequence');
    words = splitFlow(value.slice(1, -1));
  } else {
    words = splitWords(/^["'].*["']$/.test(value) ? unquote(value) : value);
  }
  if (words.length === 0 || words.some((w) => w === '')) throw refuse('invalid notifications-command: empty');
  return words;
}

function splitFlow(inner: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (const ch of inner) {
    if (quote) {
      if (ch === quote) quote = undefined;
      cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ',') {
      out.push(unquote(cur));
      cur = '';
    } else cur += ch;
  }
  if (quote) throw refuse('invalid notifications-command: unterminated quote');
  if (cur.trim() !== '') out.push(unquote(cur));
  return out;
}

async function insideSafeDir(exe: string, safeDirs: readonly string[]): Promise<boolean> {
  for (const d of safeDirs) {
    const real = await realpath(d).catch(() => undefined);
    for (const dir of [d, real]) {
      if (dir && path.dirname(exe) === dir.replace(/\/+$/, '')) return true;
    }
  }
  return false;
}

/** The argv to run for a request, or a 403 saying which rule refused it. */
export async function authorize(cmd: string, args: readonly string[], opts: NotifyOptions): Promise<{ exe: string; argv: string[] }> {
  let text: string;
  try {
    text = await readFile(opts.configPath, 'utf8');
  } catch (err) {
    throw refuse(`cannot read ${opts.configPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const words = parseNotificationsCommand(text, opts.configPath);
  if (words.some((w) => /[\r\n\0]/.test(w))) throw refuse('invalid notifications-command: contains newline');
  const configured = words[0]!;
  if (!path.isAbsolute(configured)) throw refuse('notifications-command executable must be an absolute path');
  const fixed = words.slice(1);
  const ph = fixed.indexOf(PLACEHOLDER);
  if (ph >= 0 && ph !== fixed.length - 1) throw refuse(`invalid notifications-command: '${PLACEHOLDER}' placeholder must be trailing`);
  // The real path must be in a safe directory too: a symlink in /usr/bin must not lead out of it.
  const exe = await realpath(configured).catch(() => {
    throw refuse(`notifications executable '${configured}' does not exist`);
  });
  if (!(await insideSafeDir(configured, opts.safeDirs)) || !(await insideSafeDir(exe, opts.safeDirs))) {
    throw refuse(`notifications executable '${configured}' is not in a safe directory (${opts.safeDirs.join(', ')})`);
  }
  const base = path.basename(configured);
  if (!opts.allowlist.includes(base)) throw refuse(`command '${base}' not allowed for notifications`);
  if (cmd !== base) throw refuse(`only executable basename '${base}' is accepted (got '${cmd}')`);
  if (ph >= 0) {
    return { exe: configured, argv: [...fixed.slice(0, -1), ...args.slice(0, opts.maxPlaceholderArgs)] };
  }
  if (args.length !== fixed.length || args.some((a, i) => a !== fixed[i])) {
    throw refuse(`arguments mismatch: configured ${JSON.stringify(fixed)} vs requested ${JSON.stringify(args)}`);
  }
  return { exe: configured, argv: fixed };
}

function collect(stream: NodeJS.ReadableStream, into: Buffer[]): void {
  let size = 0;
  stream.on('data', (c: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    into.push(c.subarray(0, MAX_OUTPUT_BYTES - size));
    size += c.length;
  });
}

/** Runs the authorized command in its own process group: no shell, no stdin, bounded output. */
function execute(exe: string, argv: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    collect(child.stdout!, out);
    collect(child.stderr!, err);
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), TERM_GRACE_MS).unref();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new AifoError('AIFO_E_SPAWN', `host '${path.basename(exe)}' execution failed: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new AifoError('AIFO_E_NOTIFY_TIMEOUT', `'${path.basename(exe)}' ran longer than ${timeoutMs} ms`));
      const status = signal ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? 1);
      resolve({ code: status, output: Buffer.concat([...out, ...err]).toString('utf8') });
    });
  });
}

export function createNotifyHandler(opts: NotifyOptions): NotifyHandler {
  return async (pairs: readonly FormPair[], proto: ProtoVersion) => {
    const { cmd, args } = notifyFields(pairs);
    opts.log?.verbose(`aifo-coder: proxy notify parsed cmd=${cmd} argv=${shellJoin(redactArgs(args))}`);
    if (proto !== 2) throw new AifoError('AIFO_E_PROTO', 'unsupported notify protocol; expected 2');
    const { exe, argv } = await authorize(cmd, args, opts);
    const t0 = performance.now();
    const { code, output } = await execute(exe, argv, opts.timeoutMs);
    opts.log?.verbose(`aifo-coder: proxy result tool=${cmd} kind=notify code=${code} dur_ms=${Math.round(performance.now() - t0)}`);
    return { status: 200, exitCode: code, body: output };
  };
}
