// application/x-www-form-urlencoded codec for toolexec bodies (protocol.md "Requests").
// Decoding works on bytes: `%XX` yields the byte XX and the pair is then read as UTF-8, which is
// where the Rust reference mangled non-ASCII into Latin-1 (reference §1.3 item 9, §8).

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface FormPair {
  readonly name: string;
  readonly value: string;
}

export class FormDecodeError extends Error {
  constructor(readonly fieldName: string) {
    super(`field '${fieldName}' is not valid UTF-8 after percent-decoding`);
  }
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes one name or value; an invalid `%` sequence is kept literally. */
function unescapeBytes(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x2b) {
      out[o++] = 0x20;
    } else if (c === 0x25 && i + 2 < src.length) {
      const hi = hexVal(src[i + 1]!);
      const lo = hexVal(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 2;
      } else {
        out[o++] = c;
      }
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/** Decodes a form body into ordered pairs; empty pairs are skipped, a missing `=` gives ''. */
export function decodeForm(body: Buffer | string): FormPair[] {
  const buf = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const pairs: FormPair[] = [];
  let start = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(0x26, start);
    if (end < 0) end = buf.length;
    if (end > start) {
      const piece = buf.subarray(start, end);
      const eq = piece.indexOf(0x3d);
      const rawName = eq < 0 ? piece : piece.subarray(0, eq);
      const rawValue = eq < 0 ? Buffer.alloc(0) : piece.subarray(eq + 1);
      let name: string;
      try {
        name = utf8.decode(unescapeBytes(rawName));
      } catch {
        throw new FormDecodeError('(name)');
      }
      let value: string;
      try {
        value = utf8.decode(unescapeBytes(rawValue));
      } catch {
        throw new FormDecodeError(name);
      }
      pairs.push({ name, value });
    }
    start = end + 1;
  }
  return pairs;
}

const UNRESERVED = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') {
  UNRESERVED[ch.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';

/** Encodes one string: UTF-8 bytes, unreserved kept, space as `+`, everything else `%XX`. */
export function encodeComponent(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (UNRESERVED[b]) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

export function encodeForm(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join('&');
}
