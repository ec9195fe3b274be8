// Transports for one /exec: native HTTP/1.1 (node:http over TCP or a Unix socket) and the curl
// fallback (AIFO_SHIM_NATIVE_HTTP=0). Both report the same outcome record, so main.ts decides
// exit statuses in one place. Neither ever sends the same /exec twice.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { Writable } from 'node:stream';
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
  | { readonly type: 'stdoutClosed' };

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
    request.on('error', (e: NodeJS.ErrnoException) => {
      settle({ type: 'unreachable', message: `${e.code ?? ''} ${e.message}`.trim() });
    });
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const sink = ok ? out : err;
      const onOutError = (e: NodeJS.ErrnoException): void => {
        if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
          settle({ type: 'stdoutClosed' });
          request.destroy();
        }
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
    request.on('close', () => settle({ type: 'unreachable', message: 'connection closed before any response' }));
  });
  request.end(body);
  return { outcome, abort: () => request.destroy() };
}

/** POST /signal; resolves with the status (0 when the proxy could not be reached). */
export function postSignal(cfg: ShimConfig, sig: string): Promise<number> {
  const body = Buffer.from(encodeForm([['exec_id', cfg.execId], ['signal', sig]]), 'utf8');
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
  const body = Buffer.from(encodeForm([['cmd', cmd], ...args.map((a) => ['arg', a] as const)]), 'utf8');
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

/**
 * The curl fallback. curl dumps headers (and, after the body, trailers) into a FIFO in a private
 * temporary directory, read as they come: curl writes a response's headers before any body byte,
 * so body bytes are held until the status is known and then go to stdout (2xx) or stderr. The
 * token travels in a 0600 header file (`-H @file`), never in argv where `ps` would show it.
 * (Node's stdio pipes are socketpairs, which curl cannot reopen through /dev/fd.)
 */
export function curlExec(cfg: ShimConfig, req: ExecRequest, out: Writable, err: Writable): Exchange {
  const body = execBody(req);
  const headerLines = Object.entries(baseHeaders(cfg, Buffer.byteLength(body)))
    .filter(([k]) => k !== 'Content-Length' && k !== 'Host')
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aifo-shim.'));
  const fifo = path.join(dir, 'dump');
  const headerFile = path.join(dir, 'headers');
  writeFileSync(headerFile, headerLines + '\n', { mode: 0o600 });
  const mk = spawnSync('mkfifo', ['-m', '600', fifo]);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  if (mk.status !== 0) {
    cleanup();
    return { outcome: Promise.resolve({ type: 'unreachable', message: 'cannot create a FIFO for curl (mkfifo failed)' }), abort: () => undefined };
  }
  const urlArgs =
    cfg.target.type === 'unix' ? ['--unix-socket', cfg.target.socketPath, 'http://localhost/exec'] : [cfg.target.url];
  const child = spawn(
    'curl',
    ['-sS', '--no-buffer', '-D', fifo, '-X', 'POST', '-H', `@${headerFile}`, '--data-binary', '@-', ...urlArgs],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const outcome = new Promise<Outcome>((resolve) => {
    let settled = false;
    const settle = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        cleanup();
        resolve(o);
      }
    };
    // Socketpair stdio may report ECONNRESET when curl dies; its 'close' says what happened.
    for (const s of [child.stdin, child.stdout, child.stderr]) s?.on('error', () => undefined);
    child.on('error', (e) => settle({ type: 'unreachable', message: `cannot run curl: ${e.message}` }));
    // Opening a FIFO for reading blocks until curl opens it; a read stream does that off-thread.
    const hdr = createReadStream(fifo);
    hdr.on('error', () => undefined);
    let dump = '';
    let status: number | undefined;
    const held: Buffer[] = [];
    let sink: Writable | undefined;
    let dumpEnded = false;
    let curlCode: number | null | undefined;
    hdr.on('data', (c: string | Buffer) => {
      dump += typeof c === 'string' ? c : c.toString('latin1');
      if (status === undefined) {
        const m = /^HTTP\/\d(?:\.\d)? (\d{3})[^\n]*\n(?:[^\n]*\S[^\n]*\n)*?\r?\n/m.exec(dump);
        if (m) {
          status = Number(m[1]);
          sink = status >= 200 && status < 300 ? out : err;
          for (const b of held.splice(0)) sink.write(b);
        }
      }
    });
    child.stdout!.on('data', (c: Buffer) => {
      if (!sink) held.push(c);
      else if (!sink.write(c)) {
        child.stdout!.pause();
        sink.once('drain', () => child.stdout!.resume());
      }
    });
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') {
        settle({ type: 'stdoutClosed' });
        child.kill('SIGTERM');
      }
    });
    let curlErr = '';
    child.stderr!.on('data', (c: Buffer) => (curlErr += c.toString('utf8')));
    const conclude = (): void => {
      if (!dumpEnded || curlCode === undefined) return;
      if (status === undefined) {
        return settle({ type: 'unreachable', message: curlErr.trim() || `curl exited with ${curlCode}` });
      }
      for (const b of held.splice(0)) (sink ?? out).write(b);
      const codes = [...dump.matchAll(/^X-Exit-Code:\s*(\d+)\s*$/gim)];
      const last = codes.length ? Number(codes[codes.length - 1]![1]) : undefined;
      const ends = [...dump.matchAll(/^X-Aifo-End:\s*(\S+)\s*$/gim)];
      const end = ends.length ? ends[ends.length - 1]![1] : undefined;
      if (status < 200 || status >= 300) return settle({ type: 'refused', status, code: last });
      if (curlCode !== 0 || last === undefined) return settle({ type: 'cut' });
      settle({ type: 'exit', code: last, end });
    };
    hdr.on('close', () => {
      dumpEnded = true;
      conclude();
    });
    child.on('close', (code) => {
      curlCode = code;
      // curl that never opened the FIFO (connection refused) leaves our reader waiting: open
      // and close the writing side so the reader sees EOF.
      if (!dumpEnded) {
        try {
          closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
        } catch {
          /* reader already gone */
        }
      }
      conclude();
    });
    child.stdin!.end(body);
  });
  return { outcome, abort: () => child.kill('SIGTERM') };
}
