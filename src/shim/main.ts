// aifo-shim: run a tool through the toolexec proxy as if it ran here (protocol.md "The shim").
// Every tool name in /opt/aifo/bin is a symlink to this file; the name used is the tool.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { END_SIDECAR_GONE } from '../protocol/end.js';
import { EXIT_PROTOCOL_ERROR } from '../protocol/wire.js';
import { NOTIFY_TOOL } from '../protocol/tools.js';
import { ConfigError, readConfig, type ShimConfig } from './config.js';
import { markerDir, readProcStat, removeMarkers, writeMarkers, controllingTty } from './markers.js';
import { curlExec, curlNotify, curlSignal, nativeExec, nativeNotify, postSignal, type Exchange, type Outcome } from './transport.js';

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'busybox']);
/** Legacy exit statuses for a trapped signal (AIFO_SHIM_EXIT_ZERO_ON_SIGINT=0): 128+N. */
const LEGACY_SIGNAL_EXIT: Readonly<Record<string, number>> = { INT: 130, TERM: 143, KILL: 137, HUP: 129 };
/** Exit status when our stdout reader went away, as a local tool killed by SIGPIPE reports it. */
const EXIT_SIGPIPE = 128 + 13;
/** Parent-shell termination: time for the shell to act on HUP, then on TERM (reference §3.9). */
const PARENT_HUP_GRACE_MS = 50;
const PARENT_TERM_GRACE_MS = 300;

function fail(message: string, code = EXIT_PROTOCOL_ERROR): never {
  process.stderr.write(`aifo-shim: ${message}\n`);
  process.exit(code);
}

function toolAndArgs(argv: readonly string[]): { tool: string; args: string[] } {
  const self = path.basename(argv[1] ?? 'aifo-shim');
  if (self.startsWith('aifo-shim')) {
    const tool = argv[2];
    if (!tool) fail('usage: aifo-shim TOOL [ARGS...] (or call it through a tool symlink such as cargo)');
    return { tool: path.basename(tool), args: argv.slice(3) };
  }
  return { tool: self, args: argv.slice(2) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

/** True when the shell `pid` was started with a command string (`-c`, `-lc`, `-ec`, …). */
function isCommandShell(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1);
    for (const a of args) {
      if (a === '--' || a === '-' || !a.startsWith('-')) break;
      if (a.startsWith('--')) continue; // --login, --norc, …
      if (/^-[A-Za-z]*c[A-Za-z]*$/.test(a)) return true;
    }
  } catch {
    /* gone or unreadable: leave it */
  }
  return false;
}

/** HUP, TERM, then KILL the parent when it is a shell on a terminal (protocol.md "Signals"). */
async function killParentShell(): Promise<void> {
  if (process.platform !== 'linux' || !controllingTty()) return;
  const st = readProcStat();
  const ppid = st?.ppid ?? process.ppid;
  if (ppid <= 1) return;
  let comm = '';
  try {
    comm = readFileSync(`/proc/${ppid}/comm`, 'utf8').trim();
  } catch {
    return;
  }
  if (!SHELLS.has(comm)) return;
  // Only a transient shell running a command string (`sh -c …`, what agents spawn) is ended. An
  // interactive shell is someone's prompt: Ctrl-C must return to it, not close it.
  if (!isCommandShell(ppid)) return;
  const kill = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  kill(ppid, 'SIGHUP');
  await sleep(PARENT_HUP_GRACE_MS);
  kill(ppid, 'SIGTERM');
  await sleep(PARENT_TERM_GRACE_MS);
  if (st && st.pgrp === ppid) {
    kill(-st.pgrp, 'SIGHUP');
    await sleep(PARENT_HUP_GRACE_MS);
    kill(-st.pgrp, 'SIGTERM');
    await sleep(PARENT_TERM_GRACE_MS);
  }
  kill(ppid, 'SIGKILL');
}

async function runExec(cfg: ShimConfig, tool: string, args: string[]): Promise<never> {
  let cwd: string;
  try {
    cwd = process.cwd();
  } catch (e) {
    fail(`cannot read the current directory: ${(e as Error).message}`);
  }
  if (cfg.verbose) {
    process.stderr.write(`aifo-shim: tool=${tool} cwd=${cwd} exec_id=${cfg.execId}\n`);
    process.stderr.write(`aifo-shim: preparing request to ${cfg.target.url} (proto=2)\n`);
  }
  const markers = markerDir(process.env['HOME'] || os.homedir(), cfg.execId);
  writeMarkers(markers);

  // Signals: 1st Ctrl-C → INT, 2nd → TERM, 3rd and later → KILL; SIGTERM → TERM; SIGHUP → HUP.
  // The shim stays attached until the proxy reports the end of the group.
  let lastForwarded: string | undefined;
  let interrupts = 0;
  const forward = (sig: string): void => {
    lastForwarded = sig;
    // Best effort: a signal that cannot be delivered leaves the exec to end or be cut as it will.
    void (cfg.native ? postSignal(cfg, sig) : curlSignal(cfg, sig)).catch(() => 0);
  };
  process.on('SIGINT', () => {
    interrupts += 1;
    forward(interrupts === 1 ? 'INT' : interrupts === 2 ? 'TERM' : 'KILL');
  });
  process.on('SIGTERM', () => forward('TERM'));
  process.on('SIGHUP', () => forward('HUP'));

  const exchange: Exchange = cfg.native
    ? nativeExec(cfg, { tool, cwd, args }, process.stdout, process.stderr)
    : curlExec(cfg, { tool, cwd, args }, process.stdout, process.stderr);
  const outcome: Outcome = await exchange.outcome;
  removeMarkers(markers);
  return finish(cfg, outcome, lastForwarded);
}

async function finish(cfg: ShimConfig, outcome: Outcome, lastForwarded: string | undefined): Promise<never> {
  switch (outcome.type) {
    case 'exit': {
      if (outcome.end === END_SIDECAR_GONE) {
        process.stderr.write('aifo-shim: the toolchain sidecar stopped or was removed while the tool ran; start it again (aifo sidecar up) and retry\n');
      }
      if (lastForwarded !== undefined) {
        if (lastForwarded !== 'KILL' && cfg.killParentShell) await killParentShell();
        exitAfterFlush(cfg.exitZeroOnSignal ? 0 : (LEGACY_SIGNAL_EXIT[lastForwarded] ?? outcome.code));
      } else {
        exitAfterFlush(outcome.code);
      }
      break;
    }
    case 'refused':
      exitAfterFlush(outcome.code ?? EXIT_PROTOCOL_ERROR);
      break;
    case 'unreachable':
      fail(`cannot reach the proxy at ${cfg.target.url}: ${outcome.message}`);
      break;
    case 'stdoutClosed':
      process.exit(EXIT_SIGPIPE);
      break;
    case 'outputFailed':
      fail(`cannot write the output (${outcome.code}); the tool was stopped`, 1);
      break;
    case 'cut': {
      process.stderr.write('aifo-coder: disconnect, waiting for process termination…\n');
      await sleep(cfg.disconnectWaitSecs * 1000);
      if (cfg.verbose) process.stderr.write('aifo-coder: terminating now\n\n');
      if (lastForwarded !== undefined && cfg.killParentShell && lastForwarded !== 'KILL') await killParentShell();
      exitAfterFlush(cfg.exitZeroOnDisconnect ? 0 : 1);
      break;
    }
  }
  // exitAfterFlush ends the process from its callback; keep the promise pending until then.
  return new Promise<never>(() => undefined);
}

async function runNotify(cfg: ShimConfig, tool: string, args: string[]): Promise<never> {
  const outcome = await (cfg.native ? nativeNotify : curlNotify)(cfg, tool, args, process.stdout, process.stderr).outcome;
  if (outcome.type === 'unreachable') fail(`cannot reach the proxy at ${cfg.target.url}: ${outcome.message}`);
  if (outcome.type === 'exit' || outcome.type === 'refused') exitAfterFlush(outcome.code ?? EXIT_PROTOCOL_ERROR);
  else exitAfterFlush(EXIT_PROTOCOL_ERROR);
  return new Promise<never>(() => undefined);
}

function main(): void {
  const { tool, args } = toolAndArgs(process.argv);
  let cfg: ShimConfig;
  try {
    cfg = readConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  const run = tool === NOTIFY_TOOL ? runNotify(cfg, tool, args) : runExec(cfg, tool, args);
  run.catch((e: unknown) => fail(`internal error: ${e instanceof Error ? e.message : String(e)}`));
}

main();
