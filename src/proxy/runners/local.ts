// The `local` runner: runs a tool on the proxy's own machine, in a new process group, with no
// shell built from request data (DESIGN.md "Runners"). No container engine needed.
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { endFromChild, type ExecEnd } from '../../protocol/end.js';
import { AifoError } from '../../protocol/errors.js';
import type { SignalName } from '../../protocol/signals.js';
import type { Route, ToolchainKind } from '../../protocol/tools.js';
import { GROUP_POLL_MS } from '../terminate.js';
import { groupExists } from './group.js';
import { reapOrphans, writeOwner } from './orphans.js';
import type { ExecSpec, Runner, RunningExec } from './types.js';

/**
 * Constant wrapper run as `sh -c SCRIPT aifo-exec DIR TOOL ARGS…`. Request data arrives only as
 * positional parameters. The shell is the session/group leader (spawn's `detached` is setsid),
 * records its pid as the pgid and then execs the tool, so pid == pgid (protocol.md "Execution").
 * `exec 2>&1` first: stderr joins stdout in one pipe, so their order is kept.
 */
const WRAPPER = 'exec 2>&1; d=$1; shift; mkdir -p -- "$d" && echo $$ > "$d/pgid"; exec "$@"';

/**
 * When the group is gone but a process that left it (a daemon that called setsid) still holds
 * the pipe, output is read until it has been idle this long while flowing, then the stream ends.
 */
const DRAIN_IDLE_MS = 250;

export interface LocalRunnerOptions {
  /** Directory that holds `<ExecId>/pgid`; default `$HOME/.aifo-exec`. */
  readonly execRoot?: string;
  /** PATH used to find tools; default the proxy's. */
  readonly path?: string;
}

export function defaultExecRoot(): string {
  return path.join(os.homedir(), '.aifo-exec');
}

export function createLocalRunner(opts: LocalRunnerOptions = {}): Runner {
  const execRoot = opts.execRoot ?? defaultExecRoot();
  const searchPath = opts.path ?? process.env['PATH'] ?? '/usr/bin:/bin';
  const found = new Map<string, boolean>();

  async function onPath(tool: string): Promise<boolean> {
    const cached = found.get(tool);
    if (cached !== undefined) return cached;
    let ok = false;
    for (const dir of searchPath.split(':')) {
      if (!dir) continue;
      try {
        await access(path.join(dir, tool), fsc.X_OK);
        ok = true;
        break;
      } catch {
        /* next directory */
      }
    }
    // Only positive answers are cached: a tool installed later is found on the next request.
    if (ok) found.set(tool, true);
    return ok;
  }

  return {
    name: 'local',
    async place(tool: string, route: Route): Promise<ToolchainKind> {
      if (!(await onPath(tool))) {
        throw new AifoError(
          'AIFO_E_NO_SIDECAR',
          // protocol.md's 409 text first (clients match it), then what it means here.
          `tool '${tool}' not available in running sidecars; start an appropriate toolchain (local runner: install '${tool}' on this machine, or use --runner docker)`,
        );
      }
      return route.type === 'kind' ? route.kind : route.preference[0]!;
    },

    start(spec: ExecSpec): Promise<RunningExec> {
      const dir = path.join(execRoot, spec.execId);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        return Promise.reject(new AifoError('AIFO_E_SPAWN', `cannot create ${dir}: ${(err as Error).message}`, { cause: err }));
      }
      const child = spawn('/bin/sh', ['-c', WRAPPER, 'aifo-exec', dir, spec.tool, ...spec.args], {
        cwd: spec.cwd,
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, PATH: searchPath },
      });
      return new Promise<RunningExec>((resolve, reject) => {
        child.once('error', (err) => {
          reject(new AifoError('AIFO_E_SPAWN', err.message, { cause: err }));
        });
        child.once('spawn', () => {
          const pgid = child.pid!;
          try {
            writeOwner(dir, pgid);
          } catch {
            /* best effort: only orphan reaping after a proxy crash needs it */
          }
          const output = new PassThrough();
          const stdout = child.stdout!;
          stdout.pipe(output);
          // libuv's stdio pipes are socketpairs: a dying writer can surface as ECONNRESET.
          // That is the end of the output, not a proxy failure.
          stdout.on('error', () => {
            stdout.unpipe(output);
            output.end();
          });
          let lastData = 0;
          stdout.on('data', () => (lastData = performance.now()));
          let resolveEnded!: (e: ExecEnd) => void;
          const endedP = new Promise<ExecEnd>((r) => (resolveEnded = r));

          child.once('exit', (code, signal) => {
            const end = endFromChild(code, signal);
            // "Done" is the group gone and the output drained (STYLE.md "Termination").
            const waitGroup = (): void => {
              if (groupExists(pgid)) {
                setTimeout(waitGroup, GROUP_POLL_MS).unref();
                return;
              }
              const finish = (): void => {
                void rm(dir, { recursive: true, force: true }).finally(() => resolveEnded(end));
              };
              if (stdout.readableEnded) return finish();
              output.once('end', finish);
              const idle = (): void => {
                if (stdout.readableEnded) return;
                const flowing = stdout.readableFlowing !== false;
                if (flowing && performance.now() - lastData >= DRAIN_IDLE_MS) {
                  stdout.unpipe(output);
                  stdout.destroy();
                  output.end();
                  return;
                }
                setTimeout(idle, DRAIN_IDLE_MS).unref();
              };
              lastData = performance.now();
              setTimeout(idle, DRAIN_IDLE_MS).unref();
            };
            waitGroup();
          });
          child.on('error', () => undefined);

          const signal = async (sig: SignalName): Promise<void> => {
            try {
              process.kill(-pgid, `SIG${sig}`);
            } catch {
              /* group already gone */
            }
          };
          resolve({
            output,
            ended: endedP,
            signal,
            groupAlive: async () => groupExists(pgid),
          });
        });
      });
    },

    async reapOrphans(log: (line: string) => void): Promise<void> {
      await reapOrphans(execRoot, log);
    },

    async close(): Promise<void> {},
  };
}

