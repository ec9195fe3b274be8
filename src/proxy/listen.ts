// Listeners: TCP on loopback by default, or a Unix socket with a tight mode (protocol.md
// "Transports"). A stale socket file is replaced; a live one is an error; the file is removed
// when the server closes.
import { lstat, mkdir, unlink, chmod } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type http from 'node:http';
import { AifoError } from '../protocol/errors.js';

export type ListenAddress =
  | { readonly type: 'tcp'; readonly host: string; readonly port: number }
  | { readonly type: 'unix'; readonly path: string };

/** Parses `tcp://HOST:PORT`, `http://HOST:PORT` or `unix:///abs/path.sock`. */
export function parseListen(url: string): ListenAddress {
  if (url.startsWith('unix://')) {
    const p = url.slice('unix://'.length);
    if (!p.startsWith('/')) {
      throw new AifoError('AIFO_E_CONFIG', `--listen '${url}': a unix socket path must be absolute (unix:///path.sock)`);
    }
    return { type: 'unix', path: p };
  }
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url);
  if (!m) {
    throw new AifoError('AIFO_E_CONFIG', `--listen '${url}': expected tcp://HOST:PORT or unix:///path.sock`);
  }
  const port = Number(m[2]);
  if (port > 65535) throw new AifoError('AIFO_E_CONFIG', `--listen '${url}': port ${port} is over 65535`);
  return { type: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** The URL a client uses for a bound address (`http://…/exec` or `unix://…`). */
export function clientUrl(addr: ListenAddress): string {
  if (addr.type === 'unix') return `unix://${addr.path}`;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return `http://${host}:${addr.port}/exec`;
}

async function removeStaleSocket(p: string): Promise<void> {
  let st;
  try {
    st = await lstat(p);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new AifoError('AIFO_E_CONFIG', `--listen: '${p}' exists and is not a socket; refusing to replace it`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new AifoError('AIFO_E_CONFIG', `--listen: another server is listening on '${p}'`);
  await unlink(p);
}

export interface UnixSocketOptions {
  /** 0o600 by default; 0o660 when a group is meant to share it. */
  readonly mode?: number;
}

/** Binds the server; resolves with the actual address (port 0 becomes the picked port). */
export async function listen(server: http.Server, addr: ListenAddress, opts: UnixSocketOptions = {}): Promise<ListenAddress> {
  if (addr.type === 'tcp') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    return { type: 'tcp', host: addr.host, port: a.port };
  }
  const dir = path.dirname(addr.path);
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(dir, 0o700);
  await removeStaleSocket(addr.path);
  const mode = opts.mode ?? 0o600;
  // The umask makes the socket file private from the moment it exists; chmod after bind would
  // leave a window where another user could connect.
  const oldMask = process.umask(0o777 & ~mode);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(addr.path, mode);
  server.once('close', () => {
    void unlink(addr.path).catch(() => undefined);
  });
  return addr;
}
