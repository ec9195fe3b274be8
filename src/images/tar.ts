// A small deterministic tar writer for image layers and `docker load` archives. Deterministic
// means: entries sorted by name, one fixed mtime, numeric owners 0:0, no user/group names, no
// atime/ctime — so the same directory always gives the same bytes and the same layer digest
// (the properties nixpkgs' dockerTools and nix2container give their layers).
// Format: POSIX ustar (IEEE Std 1003.1-2001, "pax" for names longer than ustar can hold).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const BLOCK = 512;

export type TarEntry =
  | { readonly type: 'dir'; readonly name: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly name: string; readonly target: string }
  | {
      readonly type: 'file';
      readonly name: string;
      readonly mode: number;
      readonly size: number;
      /** Contents: bytes, or a path read when the entry is written. */
      readonly data: Buffer | { readonly path: string };
    };

function octal(n: number, width: number): string {
  // width - 1 digits and a NUL, as GNU and BSD tar write them.
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: string, mode: number, size: number, mtime: number, link: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function paxRecord(key: string, value: string): string {
  // "%d %s=%s\n" where %d counts the whole record including itself (POSIX pax format).
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

function* headerBlocks(name: string, type: string, mode: number, size: number, mtime: number, link: string): Generator<Buffer> {
  const pax: string[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
  if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''), 'utf8');
    yield header('././@PaxHeader', 'x', 0o644, body.length, mtime, '');
    yield body;
    yield padding(body.length);
  }
  yield header(Buffer.byteLength(name) > 100 ? name.slice(0, 99) : name, type, mode, size, mtime, Buffer.byteLength(link) > 100 ? '' : link);
}

/** The tar stream of `entries`, in the order given, ending with the two zero blocks. */
export async function* tarStream(entries: Iterable<TarEntry>, mtime: number): AsyncGenerator<Buffer> {
  for (const e of entries) {
    switch (e.type) {
      case 'dir':
        yield* headerBlocks(e.name.endsWith('/') ? e.name : `${e.name}/`, '5', e.mode, 0, mtime, '');
        break;
      case 'symlink':
        yield* headerBlocks(e.name, '2', 0o777, 0, mtime, e.target);
        break;
      case 'file': {
        yield* headerBlocks(e.name, '0', e.mode, e.size, mtime, '');
        if (Buffer.isBuffer(e.data)) {
          yield e.data;
        } else {
          let seen = 0;
          for await (const chunk of createReadStream(e.data.path)) {
            seen += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (seen !== e.size) throw new Error(`tar: ${e.data.path} changed size while being archived (${e.size} -> ${seen})`);
        }
        yield padding(e.size);
        break;
      }
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * Entries for `srcDir` placed at `dest` (e.g. `opt/aifo/bin`), parents of `dest` included as
 * 0755 directories, everything sorted by name. Modes are kept (masked to 07777); owners are not.
 */
export async function dirEntries(srcDir: string, dest: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const parts = dest.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) out.push({ type: 'dir', name: parts.slice(0, i).join('/'), mode: 0o755 });
  async function walk(abs: string, rel: string): Promise<void> {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) {
      out.push({ type: 'symlink', name: rel, target: await readlink(abs) });
    } else if (st.isDirectory()) {
      out.push({ type: 'dir', name: rel, mode: st.mode });
      const names = (await readdir(abs)).sort();
      for (const n of names) await walk(path.join(abs, n), `${rel}/${n}`);
    } else if (st.isFile()) {
      out.push({ type: 'file', name: rel, mode: st.mode, size: st.size, data: { path: abs } });
    } else {
      throw new Error(`tar: ${abs} is not a file, directory or symlink`);
    }
  }
  await walk(srcDir, parts.join('/'));
  // Sorted by the bytes of the name, so the order never depends on the locale.
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

/** A pass-through that hashes what flows through it (sha256) and counts bytes. */
export function hashingTap(): Transform & { digest(): { sha256: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: h.digest('hex'), size }) });
}

/** Writes `entries` as a tar file; returns its sha256 (the layer's diff id) and size. */
export async function writeTar(entries: Iterable<TarEntry>, file: string, mtime: number): Promise<{ sha256: string; size: number }> {
  const tap = hashingTap();
  await pipeline(Readable.from(tarStream(entries, mtime)), tap, createWriteStream(file));
  return tap.digest();
}
