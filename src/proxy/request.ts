// Validation of request fields where they enter (protocol.md "Requests"): nothing unvalidated
// reaches a runner.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { AifoError } from '../protocol/errors.js';
import { isValidExecId } from '../protocol/execid.js';
import type { FormPair } from '../protocol/form.js';
import { parseSignalName, type SignalName } from '../protocol/signals.js';
import { F_ARG, F_CMD, F_CWD, F_EXEC_ID, F_SIGNAL, F_TOOL, LIMITS } from '../protocol/wire.js';

export interface ExecFields {
  readonly tool: string;
  readonly cwd: string;
  readonly args: string[];
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

function bad(detail: string): AifoError {
  return new AifoError('AIFO_E_BAD_REQUEST', detail);
}

/** Fields of /exec (and /notify's `arg`s): `tool` and `cwd` last wins, `arg` in order. */
export function execFields(pairs: readonly FormPair[], workspace: string): ExecFields {
  let tool = '';
  let cwd: string | undefined;
  const args: string[] = [];
  for (const { name, value } of pairs) {
    const key = name.toLowerCase();
    if (key === F_TOOL) tool = value;
    else if (key === F_CWD) cwd = value;
    else if (key === F_ARG) {
      if (args.length >= LIMITS.argCount) throw bad(`more than ${LIMITS.argCount} 'arg' fields`);
      if (byteLength(value) > LIMITS.argBytes) {
        throw bad(`'arg' #${args.length + 1} is ${byteLength(value)} bytes, at most ${LIMITS.argBytes} allowed`);
      }
      args.push(value);
    }
  }
  if (tool === '') throw bad("field 'tool' is missing or empty");
  if (byteLength(tool) > LIMITS.toolBytes) {
    throw bad(`field 'tool' is ${byteLength(tool)} bytes, at most ${LIMITS.toolBytes} allowed`);
  }
  return { tool, cwd: normaliseCwd(cwd ?? workspace, workspace), args };
}

/**
 * protocol.md: `cwd` must be absolute, inside the workspace root, with no `.`/`..` components.
 * Repeated and trailing slashes are folded. Returns the normalised path.
 */
export function normaliseCwd(cwd: string, workspace: string): string {
  if (byteLength(cwd) > LIMITS.cwdBytes) {
    throw bad(`field 'cwd' is ${byteLength(cwd)} bytes, at most ${LIMITS.cwdBytes} allowed`);
  }
  if (cwd.includes('\0')) throw bad("field 'cwd' contains a NUL byte");
  if (!cwd.startsWith('/')) throw bad(`cwd '${cwd}' is not an absolute path`);
  const parts = cwd.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) {
    throw bad(`cwd '${cwd}' has '.' or '..' components`);
  }
  const norm = '/' + parts.join('/');
  const root = workspace === '/' ? '/' : workspace.replace(/\/+$/, '');
  if (root !== '/' && norm !== root && !norm.startsWith(root + '/')) {
    throw bad(`cwd '${norm}' is outside the workspace '${root}'`);
  }
  return norm;
}

/**
 * Where the path exists on this machine, its real path must stay inside the workspace's real
 * path: a symlink inside the workspace must not lead a tool out of it.
 */
export async function checkCwdOnDisk(cwd: string, workspace: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(cwd);
  } catch (err) {
    throw bad(`cwd '${cwd}' does not exist (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const root = await realpath(workspace).catch(() => path.resolve(workspace));
  if (real !== root && !real.startsWith(root === '/' ? '/' : root + '/')) {
    throw bad(`cwd '${cwd}' resolves to '${real}', outside the workspace '${root}'`);
  }
}

export interface SignalFields {
  readonly execId: string;
  readonly signal: SignalName;
}

/** Fields of /signal: `exec_id` (required, validated) and `signal` (default TERM). */
export function signalFields(pairs: readonly FormPair[]): SignalFields {
  let execId: string | undefined;
  let sig: string | undefined;
  for (const { name, value } of pairs) {
    if (name === F_EXEC_ID) execId = value;
    else if (name === F_SIGNAL) sig = value;
  }
  if (execId === undefined || execId === '') throw bad("field 'exec_id' is missing");
  if (!isValidExecId(execId)) throw bad(`exec_id '${execId.slice(0, 80)}' is not [A-Za-z0-9_-]{1,64}`);
  const signal = parseSignalName(sig);
  if (!signal) throw bad(`signal '${(sig ?? '').slice(0, 32)}' is not one of INT TERM HUP KILL`);
  return { execId, signal };
}

export interface NotifyFields {
  readonly cmd: string;
  readonly args: string[];
}

export function notifyFields(pairs: readonly FormPair[]): NotifyFields {
  let cmd = '';
  const args: string[] = [];
  for (const { name, value } of pairs) {
    const key = name.toLowerCase();
    if (key === F_CMD) cmd = value;
    else if (key === F_ARG) {
      if (args.length >= LIMITS.argCount) throw bad(`more than ${LIMITS.argCount} 'arg' fields`);
      if (byteLength(value) > LIMITS.argBytes) throw bad(`'arg' #${args.length + 1} is too long`);
      args.push(value);
    }
  }
  if (cmd === '') throw bad("field 'cmd' is missing or empty");
  if (byteLength(cmd) > LIMITS.cmdBytes) throw bad(`field 'cmd' is longer than ${LIMITS.cmdBytes} bytes`);
  return { cmd, args };
}
