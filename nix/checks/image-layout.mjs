#!/usr/bin/env node
// Checks an image archive against expectations: reads a `docker save` / dockerTools stream
// archive (a tar of layer tars, a config JSON and manifest.json) from stdin, applies the layers in
// manifest order and compares the resulting filesystem and config with a JSON file of
// expectations. Used by the flake's image-layout checks (`<stream-script> | node image-layout.mjs
// --expect FILE`); works on Debian-built images saved with `docker save` as well.
//
// Streaming on purpose: toolchain images are gigabytes, so nothing but small files of interest
// (under the shim directory, passwd, group) is kept in memory. Tar as in POSIX.1-2001 (ustar +
// pax extended headers) and GNU tar's long-name records; layers may carry OCI whiteouts.
//
// Exit status: 0 all expectations hold, 1 some do not (each failure is one line on stderr),
// 2 bad usage or an archive that cannot be read.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

const BLOCK = 512;
const KEEP_MAX = 1024 * 1024; // files kept in memory for content checks
const MAX_LINK_HOPS = 40; // as Linux's MAXSYMLINKS

/** Byte reader over an async iterable of Buffers, with exact reads and skips. */
class ByteReader {
  #it;
  #chunks = [];
  #have = 0;
  #done = false;
  constructor(iterable) {
    this.#it = iterable[Symbol.asyncIterator]();
  }
  async #fill(n) {
    while (this.#have < n && !this.#done) {
      const { value, done } = await this.#it.next();
      if (done) this.#done = true;
      else if (value.length) {
        this.#chunks.push(value);
        this.#have += value.length;
      }
    }
  }
  /** Reads exactly n bytes, or fewer only at the end of the input. */
  async read(n) {
    await this.#fill(n);
    const take = Math.min(n, this.#have);
    // Copy only the chunks the read spans: headers are read 512 bytes at a time.
    const parts = [];
    let got = 0;
    while (got < take) {
      const c = this.#chunks[0];
      const k = Math.min(take - got, c.length);
      parts.push(c.subarray(0, k));
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
      got += k;
    }
    this.#have -= take;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, take);
  }
  async skip(n) {
    while (n > 0) {
      await this.#fill(1);
      if (this.#have === 0) throw new Error('archive ends inside an entry');
      const head = this.#chunks[0];
      const k = Math.min(n, head.length);
      if (k === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(k);
      this.#have -= k;
      n -= k;
    }
  }
  async drain() {
    this.#chunks = [];
    this.#have = 0;
    while (!this.#done) {
      const { done } = await this.#it.next();
      if (done) this.#done = true;
    }
  }
}

/** A window of `size` bytes of a parent reader, with bytes already read put back in front. */
class Window {
  constructor(parent, size, prefix = Buffer.alloc(0)) {
    this.parent = parent;
    this.remaining = size;
    this.prefix = prefix;
  }
  async read(n) {
    n = Math.min(n, this.remaining);
    let out = Buffer.alloc(0);
    if (this.prefix.length) {
      out = this.prefix.subarray(0, n);
      this.prefix = this.prefix.subarray(out.length);
    }
    if (out.length < n) out = Buffer.concat([out, await this.parent.read(n - out.length)]);
    if (out.length < n) throw new Error('archive ends inside an entry');
    this.remaining -= n;
    return out;
  }
  async skip(n) {
    n = Math.min(n, this.remaining);
    const fromPrefix = Math.min(n, this.prefix.length);
    this.prefix = this.prefix.subarray(fromPrefix);
    if (n > fromPrefix) await this.parent.skip(n - fromPrefix);
    this.remaining -= n;
  }
}

function cstr(buf) {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul === -1 ? buf.length : nul).toString('utf8');
}

function num(buf) {
  if (buf[0] & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as a flag.
    let v = 0n;
    for (let i = 1; i < buf.length; i++) v = (v << 8n) | BigInt(buf[i]);
    return Number(v);
  }
  const s = cstr(buf).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function isTarHeader(h) {
  if (h.length < BLOCK || h.subarray(257, 262).toString('latin1') !== 'ustar') return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === num(h.subarray(148, 156));
}

function normalize(name) {
  const parts = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts.join('/');
}

function parsePax(buf) {
  const out = {};
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(buf.subarray(i, sp).toString('latin1'), 10);
    if (!(len > 0)) break;
    const rec = buf.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const TYPES = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };

/**
 * Walks a tar archive. For each entry calls `onEntry(entry, body)`, where body is a Window over
 * the entry's data; whatever the callback leaves unread is skipped. `first` is the first header
 * block when the caller has already read it.
 */
async function walkTar(reader, onEntry, first) {
  let pax = {};
  let longName;
  let longLink;
  let header = first;
  for (;;) {
    const h = header ?? (await reader.read(BLOCK));
    header = undefined;
    if (h.length < BLOCK || h.every((b) => b === 0)) return;
    if (!isTarHeader(h)) throw new Error('not a tar header (bad magic or checksum)');
    const flag = String.fromCharCode(h[156]);
    let size = num(h.subarray(124, 136));
    if (pax.size !== undefined) size = Number(pax.size);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const data = await reader.read(size);
      await reader.skip(padded - size);
      if (flag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (flag === 'L') longName = cstr(data);
      else if (flag === 'K') longLink = cstr(data);
      continue;
    }
    const posix = h.subarray(257, 263).toString('latin1') === 'ustar\0';
    const prefix = posix ? cstr(h.subarray(345, 500)) : '';
    const raw = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
    const entry = {
      name: normalize(raw),
      type: TYPES[flag] ?? `other(${JSON.stringify(flag)})`,
      mode: num(h.subarray(100, 108)) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : num(h.subarray(108, 116)),
      gid: pax.gid !== undefined ? Number(pax.gid) : num(h.subarray(116, 124)),
      size: TYPES[flag] === 'file' ? size : 0,
      link: pax.linkpath ?? longLink ?? cstr(h.subarray(157, 257)),
    };
    pax = {};
    longName = longLink = undefined;
    const body = new Window(reader, size);
    await onEntry(entry, body);
    await body.skip(body.remaining);
    await reader.skip(padded - size);
  }
}

/** Reads an image archive: layers (by member name), small JSON members and manifest.json. */
async function readImage(input, keep) {
  const reader = new ByteReader(input);
  const layers = new Map();
  const blobs = new Map();
  await walkTar(reader, async (member, body) => {
    if (member.type !== 'file') return;
    const head = await body.read(Math.min(BLOCK, body.remaining));
    if (isTarHeader(head)) {
      const entries = [];
      const byName = new Map();
      await walkTar(
        body,
        async (e, data) => {
          if (e.type === 'hardlink') {
            // A hard link shares its target's data; it adds no bytes to the image.
            const t = byName.get(normalize(e.link));
            Object.assign(e, { type: 'file', size: 0, content: t?.content, sha256: t?.sha256, hardlink: true });
          } else if (e.type === 'file' && e.size <= KEEP_MAX && keep(e.name)) {
            const buf = await data.read(e.size);
            e.content = buf;
            e.sha256 = createHash('sha256').update(buf).digest('hex');
          }
          entries.push(e);
          byName.set(e.name, e);
        },
        head,
      );
      layers.set(normalize(member.name), entries);
    } else if (member.size <= 16 * KEEP_MAX) {
      blobs.set(normalize(member.name), Buffer.concat([head, await body.read(body.remaining)]));
    }
  });
  await reader.drain();
  const manifestBuf = blobs.get('manifest.json');
  if (!manifestBuf) throw new Error('no manifest.json in the archive');
  const manifest = JSON.parse(manifestBuf.toString('utf8'))[0];
  const configBuf = blobs.get(normalize(manifest.Config));
  if (!configBuf) throw new Error(`manifest names config ${manifest.Config}, which is not in the archive`);
  const fs = new Map();
  for (const name of manifest.Layers) {
    const entries = layers.get(normalize(name));
    if (!entries) throw new Error(`manifest names layer ${name}, which is not in the archive`);
    for (const e of entries) {
      const base = path.posix.basename(e.name);
      const dir = path.posix.dirname(e.name);
      if (base === '.wh..wh..opq') {
        for (const k of [...fs.keys()]) if (k.startsWith(`${dir}/`)) fs.delete(k);
      } else if (base.startsWith('.wh.')) {
        const gone = normalize(`${dir}/${base.slice(4)}`);
        for (const k of [...fs.keys()]) if (k === gone || k.startsWith(`${gone}/`)) fs.delete(k);
      } else if (e.name !== '') {
        fs.set(e.name, e);
      }
    }
  }
  return { manifest, config: JSON.parse(configBuf.toString('utf8')), fs };
}

/** The entry a path names inside the image, following symlinks (`follow` for the last one too). */
function lookup(fs, p, follow = true, hops = 0) {
  if (hops > MAX_LINK_HOPS) return undefined;
  const parts = normalize(p).split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur = cur ? `${cur}/${parts[i]}` : parts[i];
    const e = fs.get(cur);
    const last = i === parts.length - 1;
    if (e?.type === 'symlink' && (!last || follow)) {
      const target = e.link.startsWith('/') ? e.link : `${path.posix.dirname(cur)}/${e.link}`;
      return lookup(fs, [target, ...parts.slice(i + 1)].join('/'), follow, hops + 1);
    }
    if (last) return e;
    if (!e && ![...fs.keys()].some((k) => k.startsWith(`${cur}/`))) return undefined;
  }
  return undefined;
}

const octal = (m) => m.toString(8).padStart(4, '0');

function check(image, expect) {
  const problems = [];
  const { manifest, config, fs } = image;
  const bad = (msg) => problems.push(msg);

  if (expect.repoTag && !(manifest.RepoTags ?? []).includes(expect.repoTag)) {
    bad(`manifest RepoTags ${JSON.stringify(manifest.RepoTags)} do not include ${expect.repoTag}`);
  }
  if (expect.created !== undefined && Date.parse(config.created) !== Date.parse(expect.created)) {
    bad(`config.created is ${config.created}, expected ${expect.created} (a fixed date keeps the image id stable)`);
  }
  const env = Object.fromEntries((config.config?.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  for (const [k, v] of Object.entries(expect.env ?? {})) {
    if (env[k] !== v) bad(`Env ${k} is ${JSON.stringify(env[k])}, expected ${JSON.stringify(v)}`);
  }
  if (expect.cmd && JSON.stringify(config.config?.Cmd) !== JSON.stringify(expect.cmd)) {
    bad(`Cmd is ${JSON.stringify(config.config?.Cmd)}, expected ${JSON.stringify(expect.cmd)}`);
  }
  for (const [k, v] of Object.entries(expect.labels ?? {})) {
    if (config.config?.Labels?.[k] !== v) bad(`label ${k} is ${JSON.stringify(config.config?.Labels?.[k])}, expected ${JSON.stringify(v)}`);
  }

  for (const [dir, mode] of Object.entries(expect.dirs ?? {})) {
    const e = lookup(fs, dir);
    if (!e) bad(`${dir}: missing (expected a directory with mode ${mode})`);
    else if (e.type !== 'dir') bad(`${dir}: is a ${e.type}, expected a directory`);
    else if (octal(e.mode) !== mode) bad(`${dir}: mode ${octal(e.mode)}, expected ${mode}`);
  }
  for (const p of expect.paths ?? []) {
    if (!lookup(fs, p)) bad(`${p}: missing (or a dangling symlink)`);
  }

  if (expect.shimDir) {
    const d = normalize(expect.shimDir);
    const at = (n) => fs.get(`${d}/${n}`);
    const shim = at('aifo-shim');
    if (!shim || shim.type !== 'file') bad(`${expect.shimDir}/aifo-shim: missing or not a regular file`);
    else {
      if (octal(shim.mode) !== '0755') bad(`${expect.shimDir}/aifo-shim: mode ${octal(shim.mode)}, expected 0755`);
      const line = shim.content?.toString('utf8').split('\n')[0];
      if (expect.shebang && line !== expect.shebang) bad(`${expect.shimDir}/aifo-shim starts with ${JSON.stringify(line)}, expected ${JSON.stringify(expect.shebang)}`);
    }
    for (const t of expect.tools ?? []) {
      const e = at(t);
      if (!e) bad(`${expect.shimDir}/${t}: missing`);
      else if (e.type !== 'symlink' || e.link !== 'aifo-shim') {
        bad(`${expect.shimDir}/${t}: ${e.type === 'symlink' ? `points to ${e.link}` : `is a ${e.type}`}, expected a symlink to aifo-shim (the shim reads the tool from argv[1])`);
      }
    }
    for (const w of expect.wrappers ?? []) {
      const e = at(w);
      if (!e || e.type !== 'file') bad(`${expect.shimDir}/${w}: missing or not a regular file (wrapper)`);
      else if (octal(e.mode) !== '0755') bad(`${expect.shimDir}/${w}: mode ${octal(e.mode)}, expected 0755`);
      else if (!e.content?.toString('utf8').startsWith('#!/')) bad(`${expect.shimDir}/${w}: no #! line`);
    }
    for (const [n, e] of fs) {
      if (n.startsWith(`${d}/`) && (e.uid !== 0 || e.gid !== 0)) bad(`${n}: owned by ${e.uid}:${e.gid}, expected 0:0`);
    }
    if (expect.layoutFrom) problems.push(...compareLayout(fs, d, expect.layoutFrom));
  }

  for (const [name, u] of Object.entries(expect.users ?? {})) {
    const passwd = lookup(fs, 'etc/passwd');
    const line = passwd?.content?.toString('utf8').split('\n').find((l) => l.split(':')[0] === name);
    if (!line) bad(`/etc/passwd has no user ${name}`);
    else {
      const [, , uid, gid, , home] = line.split(':');
      if (Number(uid) !== u.uid || Number(gid) !== u.gid || home !== u.home) {
        bad(`/etc/passwd: ${line}, expected ${name} with ${u.uid}:${u.gid} and home ${u.home}`);
      }
    }
    const group = lookup(fs, 'etc/group');
    if (!group?.content?.toString('utf8').split('\n').some((l) => l.split(':')[2] === String(u.gid))) {
      bad(`/etc/group has no group with gid ${u.gid}`);
    }
  }

  const store = new Set();
  let bytes = 0;
  for (const [n, e] of fs) {
    const m = /^nix\/store\/([^/]+)/.exec(n);
    if (m) store.add(m[1]);
    if (e.type === 'file') bytes += e.size;
  }
  for (const re of expect.forbidStore ?? []) {
    const hits = [...store].filter((s) => new RegExp(re).test(s));
    if (hits.length) bad(`store paths matching /${re}/ must not be in the image: ${hits.join(', ')}`);
  }
  for (const re of expect.requireStore ?? []) {
    if (![...store].some((s) => new RegExp(re).test(s))) bad(`no store path matches /${re}/`);
  }
  if (expect.maxStorePaths !== undefined && store.size > expect.maxStorePaths) {
    bad(`${store.size} store paths, budget ${expect.maxStorePaths}`);
  }
  if (expect.maxBytes !== undefined && bytes > expect.maxBytes) {
    bad(`${(bytes / 1048576).toFixed(1)} MiB of files, budget ${(expect.maxBytes / 1048576).toFixed(1)} MiB`);
  }
  return { problems, summary: { layers: manifest.Layers.length, entries: fs.size, storePaths: store.size, bytes } };
}

/** The image's shim directory must hold exactly what the layout function wrote in `dir`. */
function compareLayout(fs, imageDir, dir) {
  const problems = [];
  const names = readdirSync(dir).sort();
  const inImage = [...fs.keys()].filter((k) => path.posix.dirname(k) === imageDir).map((k) => path.posix.basename(k)).sort();
  const extra = inImage.filter((n) => !names.includes(n));
  if (extra.length) problems.push(`/${imageDir}: ${extra.join(', ')} not written by the layout function`);
  for (const n of names) {
    const st = lstatSync(path.join(dir, n));
    const e = fs.get(`${imageDir}/${n}`);
    if (!e) {
      problems.push(`/${imageDir}/${n}: in the layout, missing from the image`);
    } else if (st.isSymbolicLink()) {
      const target = readlinkSync(path.join(dir, n));
      if (e.type !== 'symlink' || e.link !== target) problems.push(`/${imageDir}/${n}: expected a symlink to ${target}, got a ${e.type} ${e.link ?? ''}`.trimEnd());
    } else if (st.isFile()) {
      const want = createHash('sha256').update(readFileSync(path.join(dir, n))).digest('hex');
      if (e.type !== 'file') problems.push(`/${imageDir}/${n}: expected a regular file, got a ${e.type}`);
      else if (e.sha256 !== want) problems.push(`/${imageDir}/${n}: content differs from the layout`);
      else if (((st.mode & 0o111) !== 0) !== ((e.mode & 0o111) !== 0)) problems.push(`/${imageDir}/${n}: executable bits differ from the layout`);
    }
  }
  return problems;
}

async function main(argv) {
  const i = argv.indexOf('--expect');
  if (i === -1 || !argv[i + 1]) {
    process.stderr.write('usage: image-stream | node image-layout.mjs --expect EXPECT.json\n');
    return 2;
  }
  const expect = JSON.parse(readFileSync(argv[i + 1], 'utf8'));
  const shimDir = expect.shimDir ? normalize(expect.shimDir) : undefined;
  const keep = (n) => (shimDir && path.posix.dirname(n) === shimDir) || /(^|\/)etc\/(passwd|group)$/.test(n);
  let image;
  try {
    image = await readImage(process.stdin, keep);
  } catch (e) {
    process.stderr.write(`image-layout: cannot read the image archive: ${e.message}\n`);
    return 2;
  }
  const { problems, summary } = check(image, expect);
  const label = expect.repoTag ?? 'image';
  process.stdout.write(
    `${label}: ${summary.layers} layers, ${summary.entries} entries, ${summary.storePaths} store paths, ${(summary.bytes / 1048576).toFixed(1)} MiB\n`,
  );
  for (const p of problems) process.stderr.write(`image-layout: ${label}: ${p}\n`);
  return problems.length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
