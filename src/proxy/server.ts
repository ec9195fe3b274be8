// The toolexec HTTP server: auth, negotiation, validation, routing, and streaming of one exec
// per connection (protocol.md). Every request ends in a documented status; no request can
// crash the process.
import http from 'node:http';
import type { Socket } from 'node:net';
import { endTrailer, exitCodeOf, ended, type ExecEnd } from '../protocol/end.js';
import { AifoError } from '../protocol/errors.js';
import { isValidExecId, newExecId } from '../protocol/execid.js';
import { decodeForm, FormDecodeError, type FormPair } from '../protocol/form.js';
import type { SignalName } from '../protocol/signals.js';
import { routeTool } from '../protocol/tools.js';
import {
  CONTENT_TYPE_TEXT,
  H_AUTHORIZATION,
  H_END,
  H_EXEC_ID_REQUEST,
  H_EXEC_ID_RESPONSE,
  H_EXIT_CODE,
  H_PROTO,
  H_TTY,
  KNOWN_PATHS,
  LIMITS,
  PATH_EXEC,
  PATH_NOTIFY,
  PATH_SIGNAL,
  parseProto,
  type ProtoVersion,
} from '../protocol/wire.js';
import { isAuthorized } from './auth.js';
import { logLines, type Logger } from './log.js';
import { ExecRegistry, type ExecEntry } from './registry.js';
import { checkCwdOnDisk, execFields, signalFields } from './request.js';
import type { Runner, RunningExec } from './runners/types.js';
import {
  DISCONNECT_PLAN,
  escalate,
  MAX_RUNTIME_PLAN,
  planAfterSignal,
  realClock,
  type Clock,
  type Escalation,
  type Step,
} from './terminate.js';

/** v1 buffers the whole output; beyond this the tool is stopped and a 500 says to use v2. */
const V1_MAX_OUTPUT_BYTES = 256 * 1024 * 1024;
/** The line put in a v2 stream when max runtime fires (protocol.md "Max runtime"). */
export const TIMEOUT_LINE = 'aifo-coder proxy timeout\n';
/** Slow senders (slowloris) get this long for their headers (Node's default is 60 s). */
const HEADERS_TIMEOUT_MS = 15_000;
/** …and this long for the whole request body. Only the request: responses may stream for hours. */
const REQUEST_TIMEOUT_MS = 60_000;

export interface NotifyHandler {
  (pairs: readonly FormPair[], proto: ProtoVersion): Promise<{ status: number; exitCode: number; body: string }>;
}

export interface ProxyOptions {
  readonly token: string;
  readonly runner: Runner;
  readonly workspace: string;
  readonly log: Logger;
  /** Max runtime in seconds; undefined or 0 means none (protocol.md: no default). */
  readonly maxSecs?: number | undefined;
  /** Concurrent execs allowed before 503. */
  readonly maxExecs?: number;
  /** v2 TTY default (AIFO_TOOLEEXEC_TTY); v1 never has one. */
  readonly tty?: boolean;
  readonly clock?: Clock;
  readonly notify?: NotifyHandler;
}

export interface ProxyServer {
  readonly server: http.Server;
  readonly registry: ExecRegistry;
  /** Escalates every running exec (INT, TERM, KILL), waits for them to end, closes the server. */
  shutdown(): Promise<void>;
}

export const DEFAULT_MAX_EXECS = 256;

function sendPlain(
  res: http.ServerResponse,
  status: number,
  body: string,
  exitCode: number | undefined,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': CONTENT_TYPE_TEXT,
    'Content-Length': buf.length,
    Connection: 'close',
    ...extra,
  };
  if (exitCode !== undefined) headers[H_EXIT_CODE] = String(exitCode);
  res.writeHead(status, headers);
  res.end(buf);
}

function sendError(res: http.ServerResponse, err: AifoError): void {
  const extra: Record<string, string> = err.code === 'AIFO_E_METHOD' ? { Allow: 'POST' } : {};
  sendPlain(res, err.status, err.body, err.exitCode, extra);
}

/** Reads a request body up to the limit; over it, AIFO_E_TOO_LARGE (413), never a truncation. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new AifoError('AIFO_E_TOO_LARGE', `body of ${declared} bytes, at most ${limit} allowed`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        reject(new AifoError('AIFO_E_TOO_LARGE', `body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', (e) => reject(new AifoError('AIFO_E_BAD_REQUEST', `body: ${e.message}`, { cause: e })));
    req.once('aborted', () => reject(new AifoError('AIFO_E_BAD_REQUEST', 'client closed before the body ended')));
  });
}

function rawResponse(status: number, reason: string, body: string): string {
  const len = Buffer.byteLength(body);
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${CONTENT_TYPE_TEXT}\r\n${H_EXIT_CODE}: 86\r\n` +
    `Content-Length: ${len}\r\nConnection: close\r\n\r\n${body}`
  );
}

export function createProxyServer(opts: ProxyOptions): ProxyServer {
  const { token, runner, workspace, log } = opts;
  const clock = opts.clock ?? realClock;
  const maxExecs = opts.maxExecs ?? DEFAULT_MAX_EXECS;
  const registry = new ExecRegistry();
  const finishing = new Set<Promise<void>>();
  let closing = false;

  const server = http.createServer({
    maxHeaderSize: LIMITS.headerBytes,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // One request per connection (protocol.md "Transports").
    keepAlive: false,
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const code = err.code ?? '';
    const resp =
      code === 'HPE_HEADER_OVERFLOW'
        ? rawResponse(431, 'Request Header Fields Too Large', 'request headers too large\n')
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? rawResponse(408, 'Request Timeout', 'request timeout\n')
          : rawResponse(400, 'Bad Request', `bad request: malformed HTTP (${code || err.message})\n`);
    socket.end(resp);
  });

  server.on('request', (req, res) => {
    const p = handle(req, res).catch((err: unknown) => {
      const e =
        err instanceof AifoError
          ? err
          : new AifoError('AIFO_E_SPAWN', err instanceof Error ? err.message : String(err), { cause: err });
      if (!(err instanceof AifoError)) log.info(`aifo-coder: proxy internal error: ${e.message}`);
      if (res.headersSent) res.destroy();
      else sendError(res, e);
      if (e.code === 'AIFO_E_TOO_LARGE') {
        // Keep reading (and discarding) so the client sees the 413 instead of a reset.
        req.resume();
      }
    });
    finishing.add(p);
    void p.finally(() => finishing.delete(p));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.shouldKeepAlive = false;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathPart = (q < 0 ? rawUrl : rawUrl.slice(0, q)).toLowerCase();
    const query = q < 0 ? '' : rawUrl.slice(q + 1);
    if (!KNOWN_PATHS.includes(pathPart)) throw new AifoError('AIFO_E_NOT_FOUND');
    if (req.method !== 'POST') throw new AifoError('AIFO_E_METHOD');
    // Auth before anything that reveals policy (protocol.md, unlike the reference's 403 first).
    if (!isAuthorized(req.headers[H_AUTHORIZATION], token)) throw new AifoError('AIFO_E_UNAUTHORIZED');
    const proto = parseProto(req.headers[H_PROTO] as string | undefined);
    if (proto === undefined) throw new AifoError('AIFO_E_PROTO');
    if (closing) throw new AifoError('AIFO_E_BUSY', 'proxy is shutting down');

    const body = await readBody(req, LIMITS.bodyBytes);
    let pairs: FormPair[];
    try {
      // Query pairs first, then body pairs (reference §1.3); /signal reads the body only.
      pairs = pathPart === PATH_SIGNAL ? decodeForm(body) : [...decodeForm(query), ...decodeForm(body)];
    } catch (err) {
      if (err instanceof FormDecodeError) throw new AifoError('AIFO_E_BAD_REQUEST', err.message, { cause: err });
      throw err;
    }

    if (pathPart === PATH_SIGNAL) return handleSignal(pairs, res);
    if (pathPart === PATH_NOTIFY) {
      if (!opts.notify) throw new AifoError('AIFO_E_FORBIDDEN', 'notifications are not configured');
      const r = await opts.notify(pairs, proto);
      return sendPlain(res, r.status, r.body, r.exitCode);
    }
    if (pathPart === PATH_EXEC) return handleExec(req, res, pairs, proto);
  }

  function handleSignal(pairs: FormPair[], res: http.ServerResponse): void {
    const { execId, signal } = signalFields(pairs);
    const entry = registry.get(execId);
    if (!entry) throw new AifoError('AIFO_E_NOT_FOUND', `no running exec with id '${execId}'`);
    log.verbose(logLines.signal(execId, signal));
    deliver(entry, signal);
    res.writeHead(204, { 'Content-Length': 0, Connection: 'close' });
    res.end();
  }

  function deliver(entry: ExecEntry, sig: SignalName): void {
    if (entry.onSignal) entry.onSignal(sig);
    else entry.cancelledBy ??= sig;
  }

  async function handleExec(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pairs: FormPair[],
    proto: ProtoVersion,
  ): Promise<void> {
    const started = clock.now();
    const headerId = req.headers[H_EXEC_ID_REQUEST];
    const idValue = Array.isArray(headerId) ? headerId[headerId.length - 1] : headerId;
    let execId: string;
    if (idValue === undefined || idValue.trim() === '') execId = newExecId();
    else if (isValidExecId(idValue.trim())) execId = idValue.trim();
    else throw new AifoError('AIFO_E_BAD_REQUEST', `X-Aifo-Exec-Id '${idValue.slice(0, 80)}' is not [A-Za-z0-9_-]{1,64}`);

    const { tool, cwd, args } = execFields(pairs, workspace);
    log.verbose(logLines.parsed(tool, args, cwd));
    const route = routeTool(tool);
    if (!route) throw new AifoError('AIFO_E_FORBIDDEN', `tool '${tool}' is not allowed`);
    if (registry.size >= maxExecs) throw new AifoError('AIFO_E_BUSY', `${registry.size} execs running, at most ${maxExecs}`);
    const entry = registry.add(execId);
    if (!entry) throw new AifoError('AIFO_E_BAD_REQUEST', `exec id '${execId}' is already running`);

    // Disconnect while routing or starting: nothing must start for a client that is gone.
    let clientGone = false;
    const onEarlyClose = (): void => {
      if (!res.writableFinished) clientGone = true;
    };
    res.once('close', onEarlyClose);
    try {
      const kind = await runner.place(tool, route);
      await checkCwdOnDisk(cwd, workspace);
      log.verbose(logLines.execMode(proto));
      if (entry.cancelledBy || clientGone) {
        const end: ExecEnd = clientGone ? ended.disconnected() : ended.signaled(entry.cancelledBy!);
        log.verbose(logLines.result(tool, kind, exitCodeOf(end), clock.now() - started));
        if (!clientGone) sendEnd(res, proto, execId, end, Buffer.alloc(0));
        return;
      }
      const tty = proto === 2 && (opts.tty ?? true) && req.headers[H_TTY] !== '0';
      const running = await runner.start({ execId, tool, args, cwd, tty, kind });
      entry.running = running;
      res.off('close', onEarlyClose);
      const end = await stream(entry, running, res, proto, clientGone);
      log.verbose(logLines.result(tool, kind, exitCodeOf(end), clock.now() - started));
    } finally {
      res.off('close', onEarlyClose);
      registry.delete(entry);
    }
  }

  function sendEnd(res: http.ServerResponse, proto: ProtoVersion, execId: string, end: ExecEnd, out: Buffer): void {
    if (proto === 1) {
      if (end.kind === 'timedOut') return sendError(res, new AifoError('AIFO_E_TIMEOUT'));
      if (res.headersSent) return;
      res.writeHead(200, {
        'Content-Type': CONTENT_TYPE_TEXT,
        'Content-Length': out.length,
        Connection: 'close',
        [H_EXIT_CODE]: String(exitCodeOf(end)),
        [H_END]: endTrailer(end),
      });
      res.end(out);
      return;
    }
    if (!res.headersSent) writeStreamHead(res, execId);
    res.addTrailers({ [H_EXIT_CODE]: String(exitCodeOf(end)), [H_END]: endTrailer(end) });
    res.end();
  }

  function writeStreamHead(res: http.ServerResponse, execId: string): void {
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPE_TEXT,
      'Transfer-Encoding': 'chunked',
      Trailer: `${H_EXIT_CODE}, ${H_END}`,
      [H_EXEC_ID_RESPONSE]: execId,
      Connection: 'close',
    });
    // protocol.md: headers go out as soon as the tool has started, not with its first output.
    res.flushHeaders();
  }

  /**
   * Streams one running exec to its client and returns how it ended. The first reason recorded
   * (timeout, disconnect) wins over what the process reports afterwards.
   */
  async function stream(
    entry: ExecEntry,
    running: RunningExec,
    res: http.ServerResponse,
    proto: ProtoVersion,
    goneBeforeStart: boolean,
  ): Promise<ExecEnd> {
    const { execId } = entry;
    let reason: ExecEnd | undefined;
    let escalation: Escalation | undefined;
    const startPlan = (plan: readonly Step[], onStep?: (s: Step) => void): void => {
      escalation?.cancel();
      escalation = escalate(running, plan, clock, onStep);
    };
    entry.onSignal = (sig) => startPlan(planAfterSignal(sig));
    if (entry.cancelledBy) entry.onSignal(entry.cancelledBy);

    const v1Chunks: Buffer[] = [];
    let v1Size = 0;
    let v1Overflow = false;
    const out = running.output;

    const onDisconnect = (): void => {
      if (reason) return;
      reason = ended.disconnected();
      log.info(logLines.disconnect());
      // Nobody reads the output any more; keep the pipe flowing so the tool is not blocked.
      out.removeAllListeners('data');
      out.resume();
      startPlan(DISCONNECT_PLAN, (s) => log.info(logLines.escalate(s.signal, execId)));
    };
    // Watch the socket for close while streaming, not only on write (protocol.md "Disconnect").
    res.once('close', () => {
      if (!res.writableFinished) onDisconnect();
    });

    if (proto === 2 && !goneBeforeStart) writeStreamHead(res, execId);
    if (goneBeforeStart) onDisconnect();

    let timer: { cancel(): void } | undefined;
    const maxSecs = opts.maxSecs ?? 0;
    if (maxSecs > 0) {
      timer = clock.setTimeout(() => {
        if (reason) return;
        reason = ended.timedOut();
        if (proto === 2 && !res.destroyed) res.write(TIMEOUT_LINE);
        startPlan(MAX_RUNTIME_PLAN, (s) =>
          log.verbose(logLines.maxRuntime(s.signal, execId, maxSecs + s.at / 1000)),
        );
      }, maxSecs * 1000);
    }

    out.on('data', (chunk: Buffer) => {
      if (reason?.kind === 'disconnected') return;
      if (proto === 1) {
        v1Size += chunk.length;
        if (v1Size > V1_MAX_OUTPUT_BYTES) {
          if (!v1Overflow) {
            v1Overflow = true;
            startPlan(DISCONNECT_PLAN);
          }
          return;
        }
        v1Chunks.push(chunk);
        return;
      }
      // Backpressure: a slow client slows the tool, output is never dropped.
      if (!res.write(chunk)) {
        out.pause();
        res.once('drain', () => out.resume());
      }
    });

    const processEnd = await running.ended;
    timer?.cancel();
    const end = reason ?? processEnd;
    // The group is gone: stop any escalation still waiting to fire.
    escalation?.cancel();
    entry.onSignal = undefined;
    if (end.kind === 'disconnected') return end;
    if (v1Overflow) {
      sendError(res, new AifoError('AIFO_E_SPAWN', `output over ${V1_MAX_OUTPUT_BYTES} bytes; use protocol 2 (streaming)`));
      return end;
    }
    sendEnd(res, proto, execId, end, proto === 1 ? Buffer.concat(v1Chunks, v1Size) : Buffer.alloc(0));
    return end;
  }

  async function shutdown(): Promise<void> {
    closing = true;
    server.close();
    for (const entry of registry.entries()) {
      if (entry.running) {
        escalate(entry.running, DISCONNECT_PLAN, clock);
      } else {
        entry.cancelledBy ??= 'TERM';
      }
    }
    await Promise.allSettled([...finishing]);
    server.closeAllConnections();
  }

  return { server, registry, shutdown };
}

