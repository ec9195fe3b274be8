// Transports for one /exec: native HTTP/1.1 (node:http over TCP or a Unix socket) and the curl
// fallback (AIFO_SHIM_NATIVE_HTTP=0). Both report the same outcome record, so main.ts decides
// exit statuses in one place. Neither ever sends the same /exec twice.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { isatty } from 'node:tty';
import path from 'node:path';
import http from 'node:http';
import { PassThrough, type Writable } from 'node:stream';
import { encodeForm } from '../protocol/form.js';
import { CONTENT_TYPE_FORM, H_END, H_EXIT_CODE } from '../protocol/wire.js';
import { siblingPath, type ShimConfig, type Target } from './config.js';

export type Outcome =
  /** The proxy answered 2xx and said how the tool ended (trailer, or header for v1). */
  | { readonly type: 'exit'; readonly code: number; readonly end: string | undefined }
  /** A non-2xx plain response; its body went to stderr. */
  | { readonly type: 'refused'; readonly status: number; readonly code: number | undefined }
  /** The response started but was cut before its end (proxy gone, connection dropped). */
  | { readonly type: 'cut' }
  /** No response at all: connection refused, or closed before any header. */
  | { readonly type: 'unreachable'; readonly message: string }
  /** Our stdout closed (EPIPE): the reader is gone, like `| head -1`. */
  | { readonly type: 'stdoutClosed' }
  /** Writing our output failed otherwise (ENOSPC on a full disk, EIO, …): nothing can be kept. */
  | { readonly type: 'outputFailed'; readonly code: string };

export interface ExecRequest {
  readonly tool: string;
  readonly cwd: string;
  readonly args: readonly string[];
}

export function execBody(req: ExecRequest): string {
  return encodeForm([['tool', req.tool], ['cwd', req.cwd], ...req.args.map((a) => ['arg', a] as const)]);
}

function baseHeaders(cfg: ShimConfig, bodyLength: number): Record<string, string | number> {
  return {
    Host: cfg.target.type === 'unix' ? 'localhost' : cfg.target.host,
    Authorization: `Bearer ${cfg.token}`,
    'X-Aifo-Proto': '2',
    TE: 'trailers',
    'Content-Type': CONTENT_TYPE_FORM,
    'Content-Length': bodyLength,
    'X-Aifo-Exec-Id': cfg.execId,
    // A terminal for the tool only when ours is one (src/protocol/wire.ts H_TTY).
    'X-Aifo-Tty': isatty(1) ? '1' : '0',
    Connection: 'close',
  };
}

function connectOptions(target: Target, path: string): http.RequestOptions {
  return target.type === 'unix'
    ? { socketPath: target.socketPath, path }
    : { host: target.host, port: target.port, path };
}

function parseCode(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
}

export interface Exchange {
  readonly outcome: Promise<Outcome>;
  /** Drops the connection (the proxy then stops the tool: disconnect escalation). */
  abort(): void;
}

/** Native exec: the body streams to `out` as it arrives, with backpressure. */
export function nativeExec(cfg: ShimConfig, req: ExecRequest, out: Writable, err: Writable): Exchange {
  const body = Buffer.from(execBody(req), 'utf8');
  const path = cfg.target.type === 'unix' ? '/exec' : cfg.target.path;
  const request = http.request({
    ...connectOptions(cfg.target, path),
    method: 'POST',
    headers: baseHeaders(cfg, body.length),
    agent: false,
    // Tolerate LF-only line endings from other proxies (protocol.md "Requests").
    insecureHTTPParser: true,
  });
  const outcome = new Promise<Outcome>((resolve) => {
    let settled = false;
    const settle = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    let responded = false;
    request.on('error', (e: NodeJS.ErrnoException) => {
      settle(responded ? { type: 'cut' } : { type: 'unreachable', message: `${e.code ?? ''} ${e.message}`.trim() });
    });
    request.on('response', (res) => {
      responded = true;
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const sink = ok ? out : err;
      // Any failure to write the output ends the exchange; the dropped connection makes the
      // proxy stop the tool (disconnect escalation), so nothing runs on unseen.
      const onOutError = (e: NodeJS.ErrnoException): void => {
        settle(e.code === 'EPIPE' ? { type: 'stdoutClosed' } : { type: 'outputFailed', code: e.code ?? e.message });
        request.destroy();
      };
      sink.on('error', onOutError);
      res.on('data', (chunk: Buffer) => {
        if (!sink.write(chunk)) {
          res.pause();
          sink.once('drain', () => res.resume());
        }
      });
      res.on('end', () => {
        if (!ok) return settle({ type: 'refused', status, code: parseCode(res.headers[H_EXIT_CODE.toLowerCase()]) });
        const code = parseCode(res.trailers[H_EXIT_CODE.toLowerCase()]) ?? parseCode(res.headers[H_EXIT_CODE.toLowerCase()]);
        const end = res.trailers[H_END.toLowerCase()] ?? (res.headers[H_END.toLowerCase()] as string | undefined);
        settle(code === undefined ? { type: 'cut' } : { type: 'exit', code, end });
      });
      res.on('error', () => settle({ type: 'cut' }));
      res.on('close', () => {
        if (!res.complete) settle({ type: 'cut' });
      });
    });
    // After a response started, a closed connection is a cut stream (the response says so).
    request.on('close', () => {
      if (!responded) settle({ type: 'unreachable', message: 'connection closed before any response' });
    });
  });
  request.end(body);
  return { outcome, abort: () => request.destroy() };
}

function signalBody(cfg: ShimConfig, sig: string): string {
  return encodeForm([['exec_id', cfg.execId], ['signal', sig]]);
}

function notifyBody(cmd: string, args: readonly string[]): string {
  return encodeForm([['cmd', cmd], ...args.map((a) => ['arg', a] as const)]);
}

/** POST /signal; resolves with the status (0 when the proxy could not be reached). */
export function postSignal(cfg: ShimConfig, sig: string): Promise<number> {
  const body = Buffer.from(signalBody(cfg, sig), 'utf8');
  return new Promise((resolve) => {
    const r = http.request({
      ...connectOptions(cfg.target, siblingPath(cfg.target, '/signal')),
      method: 'POST',
      headers: baseHeaders(cfg, body.length),
      agent: false,
      timeout: 3000,
    });
    r.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(0));
    r.end(body);
  });
}

/**
 * POST /notify (the `say` tool): plain request, body to `out`, exit code from the header.
 */
export function nativeNotify(cfg: ShimConfig, cmd: string, args: readonly string[], out: Writable, err: Writable): Exchange {
  const body = Buffer.from(notifyBody(cmd, args), 'utf8');
  const request = http.request({
    ...connectOptions(cfg.target, siblingPath(cfg.target, '/notify')),
    method: 'POST',
    headers: { ...baseHeaders(cfg, body.length), 'X-Aifo-Client': 'aifo-shim-native' },
    agent: false,
  });
  const outcome = new Promise<Outcome>((resolve) => {
    request.on('error', (e: NodeJS.ErrnoException) => resolve({ type: 'unreachable', message: `${e.code ?? ''} ${e.message}`.trim() }));
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      res.pipe(ok ? out : err, { end: false });
      res.on('end', () => {
        const code = parseCode(res.headers[H_EXIT_CODE.toLowerCase()]);
        resolve(ok ? { type: 'exit', code: code ?? 1, end: undefined } : { type: 'refused', status, code });
      });
      res.on('error', () => resolve({ type: 'cut' }));
    });
  });
  request.end(body);
  return { outcome, abort: () => request.destroy() };
}

/** Private directories (they hold the token) and curl processes of exchanges not yet settled. */
const inFlight = new Set<string>();
const children = new Set<ReturnType<typeof spawn>>();
// The shim may exit while a curl /signal is still out (the exec ended first): nothing holding
// the token stays on disk, no curl outlives us.
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
  for (const d of inFlight) rmSync(d, { recursive: true, force: true });
});

/**
 * The curl fallback (AIFO_SHIM_NATIVE_HTTP=0): every request the shim makes goes through curl,
 * /exec, /signal and /notify alike. curl dumps headers (and, after the body, trailers) with `-D`
 * into a file in a private temporary directory; it flushes that file after every header line,
 * before it writes any body byte to stdout. So when the first body byte arrives the status is on
 * disk: 2xx bodies go to `out`, others to `err`. After curl exits the same file holds the
 * trailers. The token travels in a 0600 header file (`-H @file`), never in argv where `ps` would
 * show it.
 */
function curlPost(
  cfg: ShimConfig,
  name: '/exec' | '/signal' | '/notify',
  body: string,
  extra: Record<string, string>,
  out: Writable,
  err: Writable,
  curlOptions: readonly string[] = [],
): Exchange & { readonly status: Promise<number | undefined> } {
  const headerLines = Object.entries({ ...baseHeaders(cfg, Buffer.byteLength(body)), ...extra })
    .filter(([k]) => k !== 'Content-Length' && k !== 'Host')
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aifo-shim.'));
  const dumpFile = path.join(dir, 'dump');
  const headerFile = path.join(dir, 'headers');
  writeFileSync(headerFile, headerLines + '\n', { mode: 0o600 });
  const readDump = (): string => {
    try {
      return readFileSync(dumpFile, 'latin1');
    } catch {
      return '';
    }
  };
  let url: string;
  if (cfg.target.type === 'unix') {
    url = `http://localhost${name}`;
  } else {
    // The same path the native client uses: the parsed one (no query), /signal and /notify
    // next to /exec.
    const u = new URL(cfg.target.url);
    u.pathname = name === '/exec' ? cfg.target.path : siblingPath(cfg.target, name);
    u.search = '';
    u.hash = '';
    url = u.toString();
  }
  const urlArgs = cfg.target.type === 'unix' ? ['--unix-socket', cfg.target.socketPath, url] : [url];
  // curl shares our process group, so a Ctrl-C on the terminal reaches it too: started with
  // INT and QUIT ignored (an ignored signal stays ignored across exec), it keeps the exchange
  // open while we forward the signal to the proxy, as the native client does.
  const child = spawn(
    '/bin/sh',
    ['-c', 'trap "" INT QUIT; exec curl "$@"', 'curl', '-sS', '--no-buffer', ...curlOptions, '-D', dumpFile, '-X', 'POST', '-H', `@${headerFile}`, '--data-binary', '@-', ...urlArgs],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  inFlight.add(dir);
  children.add(child);
  child.once('close', () => children.delete(child));
  let resolveStatus!: (s: number | undefined) => void;
  const status = new Promise<number | undefined>((r) => (resolveStatus = r));
  const outcome = new Promise<Outcome>((resolve) => {
    let settled = false;
    const settle = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        resolveStatus(statusOf(readDump()));
        rmSync(dir, { recursive: true, force: true });
        inFlight.delete(dir);
        resolve(o);
      }
    };
    // Socketpair stdio may report ECONNRESET when curl dies; its 'close' says what happened.
    for (const s of [child.stdin, child.stdout, child.stderr]) s?.on('error', () => undefined);
    child.on('error', (e) => settle({ type: 'unreachable', message: `cannot run curl: ${e.message}` }));
    let sink: Writable | undefined;
    child.stdout!.on('data', (c: Buffer) => {
      sink ??= (statusOf(readDump()) ?? 200) < 300 ? out : err;
      if (!sink.write(c)) {
        child.stdout!.pause();
        sink.once('drain', () => child.stdout!.resume());
      }
    });
    out.on('error', (e: NodeJS.ErrnoException) => {
      settle(e.code === 'EPIPE' ? { type: 'stdoutClosed' } : { type: 'outputFailed', code: e.code ?? e.message });
      child.kill('SIGTERM');
    });
    let curlErr = '';
    child.stderr!.on('data', (c: Buffer) => (curlErr += c.toString('utf8')));
    child.on('close', (curlCode) => {
      const dump = readDump();
      const status = statusOf(dump);
      if (status === undefined) {
        return settle({ type: 'unreachable', message: curlErr.trim() || `curl exited with ${curlCode}` });
      }
      const last = lastHeader(dump, 'X-Exit-Code');
      const code = last !== undefined && /^\d{1,3}$/.test(last) ? Number(last) : undefined;
      if (status < 200 || status >= 300) return settle({ type: 'refused', status, code });
      if (curlCode !== 0 || code === undefined) return settle({ type: 'cut' });
      settle({ type: 'exit', code, end: lastHeader(dump, 'X-Aifo-End') });
    });
    child.stdin!.end(body);
  });
  return { outcome, status, abort: () => child.kill('SIGTERM') };
}

/** /exec through curl. */
export function curlExec(cfg: ShimConfig, req: ExecRequest, out: Writable, err: Writable): Exchange {
  return curlPost(cfg, '/exec', execBody(req), {}, out, err);
}

/** /notify (the `say` tool) through curl. */
export function curlNotify(cfg: ShimConfig, cmd: string, args: readonly string[], out: Writable, err: Writable): Exchange {
  return curlPost(cfg, '/notify', notifyBody(cmd, args), { 'X-Aifo-Client': 'aifo-shim-curl' }, out, err);
}

/** /signal through curl; resolves with the status (0 when the proxy could not be reached). */
export async function curlSignal(cfg: ShimConfig, sig: string): Promise<number> {
  const sink = new PassThrough();
  sink.resume();
  const r = curlPost(cfg, '/signal', signalBody(cfg, sig), {}, sink, sink, ['--max-time', '3']);
  await r.outcome;
  return (await r.status) ?? 0;
}

/** Status of the last complete response head in a curl header dump (skips 1xx heads). */
function statusOf(dump: string): number | undefined {
  let status: number | undefined;
  for (const m of dump.matchAll(/^HTTP\/\d(?:\.\d)? (\d{3})/gm)) {
    const s = Number(m[1]);
    if (s >= 200) status = s;
  }
  return status;
}

/** Last value of a header or trailer in a curl dump (case-insensitive name). */
function lastHeader(dump: string, name: string): string | undefined {
  let v: string | undefined;
  const re = new RegExp(`^${name}:[ \\t]*([^\\r\\n]*?)[ \\t]*\\r?$`, 'gim');
  for (const m of dump.matchAll(re)) v = m[1];
  return v;
}
