// The shim's environment, read once and validated (protocol.md "The shim").
import { isValidExecId, newExecId } from '../protocol/execid.js';

export type Target =
  | { readonly type: 'tcp'; readonly host: string; readonly port: number; readonly path: string; readonly url: string }
  | { readonly type: 'unix'; readonly socketPath: string; readonly url: string };

export interface ShimConfig {
  readonly target: Target;
  readonly token: string;
  readonly execId: string;
  readonly verbose: boolean;
  readonly native: boolean;
  readonly exitZeroOnSignal: boolean;
  readonly exitZeroOnDisconnect: boolean;
  readonly killParentShell: boolean;
  readonly disconnectWaitSecs: number;
}

export class ConfigError extends Error {}

export function parseTarget(raw: string): Target {
  const url = raw.trim();
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new ConfigError(`AIFO_TOOLEEXEC_URL '${url}': unix socket path must be absolute`);
    return { type: 'unix', socketPath, url };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`AIFO_TOOLEEXEC_URL '${url}' is not a URL (expected http://HOST:PORT/exec or unix:///path.sock)`);
  }
  if (u.protocol !== 'http:') {
    throw new ConfigError(`AIFO_TOOLEEXEC_URL '${url}': scheme '${u.protocol}' not supported (http: or unix:)`);
  }
  const path = u.pathname === '/' || u.pathname === '' ? '/exec' : u.pathname;
  return { type: 'tcp', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80), path, url };
}

/** `/exec` → `/signal` next to it (the URL may carry a prefix before /exec). */
export function siblingPath(target: Target, name: '/signal' | '/notify'): string {
  if (target.type === 'unix') return name;
  const i = target.path.lastIndexOf('/exec');
  return (i >= 0 ? target.path.slice(0, i) : target.path.replace(/\/$/, '')) + name;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return dflt;
  return /^\d{1,6}$/.test(v) ? Number(v) : dflt;
}

export function readConfig(env: NodeJS.ProcessEnv): ShimConfig {
  const url = env['AIFO_TOOLEEXEC_URL']?.trim();
  const token = env['AIFO_TOOLEEXEC_TOKEN']?.trim();
  if (!url) throw new ConfigError('AIFO_TOOLEEXEC_URL is not set; start the agent through aifo (aifo run) or export it');
  if (!token) throw new ConfigError('AIFO_TOOLEEXEC_TOKEN is not set; start the agent through aifo (aifo run) or export it');
  const forced = env['AIFO_EXEC_ID']?.trim();
  if (forced && !isValidExecId(forced)) throw new ConfigError(`AIFO_EXEC_ID '${forced.slice(0, 80)}' is not [A-Za-z0-9_-]{1,64}`);
  return {
    target: parseTarget(url),
    token,
    execId: forced || newExecId(),
    verbose: env['AIFO_TOOLCHAIN_VERBOSE'] === '1',
    native: env['AIFO_SHIM_NATIVE_HTTP'] !== '0',
    exitZeroOnSignal: (env['AIFO_SHIM_EXIT_ZERO_ON_SIGINT'] ?? '1') === '1',
    exitZeroOnDisconnect: env['AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT'] !== '0',
    killParentShell: (env['AIFO_SHIM_KILL_PARENT_SHELL_ON_SIGINT'] ?? '1') === '1',
    disconnectWaitSecs: intEnv(env, 'AIFO_SHIM_DISCONNECT_WAIT_SECS', 1),
  };
}
