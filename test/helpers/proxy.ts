// Test helpers: a real proxy on a real socket (port 0 or a temp Unix socket), a raw HTTP client
// that shows exactly what went over the wire, and the built shim bundle as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { encodeForm } from '../../src/protocol/form.js';
import { clientUrl, listen, type ListenAddress } from '../../src/proxy/listen.js';
import { createLogger } from '../../src/proxy/log.js';
import { createLocalRunner } from '../../src/proxy/runners/local.js';
import type { Runner } from '../../src/proxy/runners/types.js';
import { groupExists } from '../../src/proxy/runners/group.js';
import { createProxyServer, type ProxyOptions, type ProxyServer } from '../../src/proxy/server.js';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const fixture = (name: string): string => path.join(repoRoot, 'test/fixtures', name);
export const shimBundle = path.join(repoRoot, 'dist/aifo-shim.cjs');
export const cliBundle = path.join(repoRoot, 'dist/aifo.mjs');

export function tempDir(t: TestContext | undefined, prefix = 'aifo-test-'): string {
  const d = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  t?.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export interface TestProxy {
  readonly url: string;
  readonly token: string;
  readonly addr: ListenAddress;
  readonly workspace: string;
  readonly execRoot: string;
  readonly logs: string[];
  readonly proxy: ProxyServer;
  close(): Promise<void>;
}

export async function startProxy(
  t: TestContext,
  opts: Partial<Omit<ProxyOptions, 'log'>> & { unix?: boolean; runnerWrap?: (r: Runner) => Runner } = {},
): Promise<TestProxy> {
  const workspace = opts.workspace ?? tempDir(t, 'aifo-ws-');
  const execRoot = tempDir(t, 'aifo-execroot-');
  const logs: string[] = [];
  const log = createLogger(true, (s) => logs.push(...s.split('\n').filter(Boolean)));
  const local = createLocalRunner({ execRoot });
  const runner = opts.runnerWrap ? opts.runnerWrap(local) : (opts.runner ?? local);
  const token = opts.token ?? 'a'.repeat(32);
  const proxy = createProxyServer({ ...opts, token, runner, workspace, log });
  const want: ListenAddress = opts.unix
    ? { type: 'unix', path: path.join(tempDir(t, 'aifo-sock-'), 'run', 'toolexec.sock') }
    : { type: 'tcp', host: '127.0.0.1', port: 0 };
  const addr = await listen(proxy.server, want);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await proxy.shutdown();
    await new Promise<void>((r) => (proxy.server.listening ? proxy.server.close(() => r()) : r()));
  };
  t.after(close);
  return { url: clientUrl(addr), token, addr, workspace, execRoot, logs, proxy, close };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly trailers: Record<string, string>;
  readonly raw: Buffer;
}

export function connect(addr: ListenAddress): net.Socket {
  return addr.type === 'unix' ? net.connect(addr.path) : net.connect(addr.port, addr.host);
}

/** Parses one HTTP/1.1 response (Content-Length, chunked with trailers, or until close). */
export function parseResponse(raw: Buffer): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest = raw.subarray(headEnd + 4);
  const trailers: Record<string, string> = {};
  if (headers['transfer-encoding']?.includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
      if (size === 0) {
        const tl = rest.subarray(nl + 2).toString('latin1').split('\r\n');
        for (const l of tl) {
          const i = l.indexOf(':');
          if (i > 0) trailers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        break;
      }
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    return { status, headers, body: Buffer.concat(parts), trailers, raw };
  }
  return { status, headers, body: rest, trailers, raw };
}

/** Sends raw bytes, reads until the server closes, parses the response. */
export function rawExchange(addr: ListenAddress, request: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(addr);
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => (chunks.length ? undefined : reject(e)));
    s.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    });
    // No half-close: to Node's server (and to ours, by design) a FIN is a client that left.
    s.write(request);
  });
}

export interface RequestSpec {
  readonly path?: string;
  readonly method?: string;
  readonly token?: string | null;
  readonly proto?: string | null;
  readonly execId?: string;
  readonly form?: readonly (readonly [string, string])[];
  readonly body?: string | Buffer;
  readonly extraHeaders?: string;
}

export function buildRequest(p: TestProxy, spec: RequestSpec): Buffer {
  const body = spec.body !== undefined ? Buffer.from(spec.body) : Buffer.from(encodeForm(spec.form ?? []), 'utf8');
  let head = `${spec.method ?? 'POST'} ${spec.path ?? '/exec'} HTTP/1.1\r\nHost: localhost\r\n`;
  const token = spec.token === undefined ? p.token : spec.token;
  if (token !== null) head += `Authorization: Bearer ${token}\r\n`;
  const proto = spec.proto === undefined ? '2' : spec.proto;
  if (proto !== null) head += `X-Aifo-Proto: ${proto}\r\n`;
  if (spec.execId) head += `X-Aifo-Exec-Id: ${spec.execId}\r\n`;
  head += spec.extraHeaders ?? '';
  head += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export function request(p: TestProxy, spec: RequestSpec): Promise<RawResponse> {
  return rawExchange(p.addr, buildRequest(p, spec));
}

/** The form of an exec of `node <args…>` in the workspace. */
export function nodeExec(p: TestProxy, args: readonly string[], cwd = p.workspace): [string, string][] {
  return [['tool', 'node'], ['cwd', cwd], ...args.map((a) => ['arg', a] as [string, string])];
}

export interface ShimRun {
  readonly child: ChildProcess;
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the stdout text once it contains `needle`. */
  waitFor(needle: string): Promise<string>;
}

export function runShim(
  p: Pick<TestProxy, 'url' | 'token' | 'workspace'> | undefined,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; detached?: boolean; tool?: string } = {},
): ShimRun {
  const env: Record<string, string | undefined> = { ...process.env, AIFO_SHIM_DISCONNECT_WAIT_SECS: '0' };
  delete env['AIFO_TOOLCHAIN_VERBOSE'];
  if (p) {
    env['AIFO_TOOLEEXEC_URL'] = p.url;
    env['AIFO_TOOLEEXEC_TOKEN'] = p.token;
  }
  Object.assign(env, opts.env ?? {});
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [shimBundle, opts.tool ?? 'node', ...args], {
    cwd: opts.cwd ?? p?.workspace ?? os.tmpdir(),
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const waiters: { needle: string; resolve: (s: string) => void }[] = [];
  child.stdout!.on('data', (c: Buffer) => {
    stdout.push(c);
    const text = Buffer.concat(stdout).toString('utf8');
    for (const w of waiters.splice(0)) {
      if (text.includes(w.needle)) w.resolve(text);
      else waiters.push(w);
    }
  });
  child.stderr!.on('data', (c: Buffer) => stderr.push(c));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout,
    stderr,
    exit,
    waitFor(needle) {
      const text = Buffer.concat(stdout).toString('utf8');
      if (text.includes(needle)) return Promise.resolve(text);
      return new Promise((resolve, reject) => {
        waiters.push({ needle, resolve });
        void exit.then(() => reject(new Error(`shim exited before printing '${needle}'; stderr: ${Buffer.concat(stderr).toString()}`)));
      });
    },
  };
}

/** SHA-256 and byte count of everything a shim run writes to stdout (replaces its collector). */
export function hashStdout(r: ShimRun): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  r.child.stdout!.removeAllListeners('data');
  r.child.stdout!.on('data', (c: Buffer) => {
    h.update(c);
    bytes += c.length;
  });
  return r.exit.then(() => ({ hash: h.digest('hex'), bytes }));
}

/** True while any process of group `pgid` exists. */
export const groupAlive = groupExists;

/** Waits (polling the kernel, not sleeping blindly) until the group is gone; returns elapsed ms. */
export async function waitGroupGone(pgid: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (groupAlive(pgid)) {
    if (performance.now() - t0 > limitMs) throw new Error(`process group ${pgid} still alive after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

export function parsePidLine(text: string): { pid: number; pgid: number } {
  const m = /pid=(\d+) pgid=(\d+)/.exec(text);
  if (!m) throw new Error(`no pid line in ${JSON.stringify(text)}`);
  return { pid: Number(m[1]), pgid: Number(m[2]) };
}
