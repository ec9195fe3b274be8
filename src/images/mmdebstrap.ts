// Builds a Debian root filesystem tarball with mmdebstrap (DESIGN.md "Images": Debian-built
// images where Nix is absent). mmdebstrap with no MIRROR argument uses deb.debian.org (plus the
// -updates and -security suites for a stable release) — it does not read the host's
// /etc/apt/sources.list, and it writes its own temporary apt configuration, so no host apt
// configuration, proxy or credential is copied in. `checkRootfs` verifies that on every build.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import split2 from 'split2';
import { hashingTap } from './tar.js';

/** Fixed timestamp for reproducible output (mmdebstrap honours SOURCE_DATE_EPOCH). 2024-01-01. */
export const SOURCE_DATE_EPOCH = 1_704_067_200;

/** Documentation and translations are not needed by tools in a sidecar; copyright files stay. */
const DPKG_OPTS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** mmdebstrap's eatmydata hook (it needs dpkg-architecture from dpkg-dev on the build machine). */
const EATMYDATA_HOOKS = '/usr/share/mmdebstrap/hooks/eatmydata';

/**
 * dpkg fsyncs every file it unpacks; for a throw-away build tree that is pure cost (the node
 * image alone is ~400 small packages). eatmydata removes the syncs; without it,
 * force-unsafe-io removes most of them.
 */
function speedups(): string[] {
  const hasArchTool = SYSTEM_PATH.split(':').some((d) => existsSync(`${d}/dpkg-architecture`));
  if (existsSync(EATMYDATA_HOOKS) && hasArchTool) return [`--hook-dir=${EATMYDATA_HOOKS}`];
  return ['--dpkgopt=force-unsafe-io'];
}

export interface RootfsSpec {
  readonly suite: string;
  readonly variant: 'essential' | 'apt';
  readonly packages: readonly string[];
  /** Made with mode 1777 (sticky, world-writable): sidecars run as an arbitrary uid. */
  readonly writableDirs: readonly string[];
  /** Symlinks to create, link path -> target. */
  readonly symlinks?: Readonly<Record<string, string>>;
}

/** Single-quotes a value for the hook shell (values come from validated definitions only). */
function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The customize hook: writable directories, and removal of anything that could carry
 * credentials or host configuration (mmdebstrap writes none of these, this keeps it so).
 */
export function customizeScript(spec: RootfsSpec): string {
  const lines = [
    'set -e',
    'r="$1"',
    'rm -rf "$r/etc/apt/auth.conf" "$r/etc/apt/auth.conf.d" "$r/etc/apt/apt.conf.d/99mmdebstrap" "$r/root/.netrc" "$r/etc/apt/sources.list.d/"*.disabled*',
    'rm -rf "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"*.bin "$r/var/cache/debconf/"*-old "$r/var/log/"*.log "$r/var/log/apt"',
  ];
  for (const d of spec.writableDirs) lines.push(`mkdir -p "$r"${sq(d)}`, `chmod 1777 "$r"${sq(d)}`);
  for (const [link, target] of Object.entries(spec.symlinks ?? {})) lines.push(`ln -sfn ${sq(target)} "$r"${sq(link)}`);
  return lines.join('\n');
}

export interface RootfsResult {
  readonly sha256: string;
  readonly size: number;
}

/**
 * Runs `mmdebstrap … SUITE - | mmtarfilter --path-exclude=/dev/*` into `out` (a plain tar, one
 * image layer). Downloaded packages are kept in `debCache` (mmdebstrap's documented sync-in /
 * sync-out recipe) so a rebuild does not download them again.
 */
export async function buildRootfs(spec: RootfsSpec, out: string, opts: { debCache: string; log: (line: string) => void }): Promise<RootfsResult> {
  await mkdir(opts.debCache, { recursive: true });
  const args = [
    ...speedups(),
    `--variant=${spec.variant}`,
    `--include=${spec.packages.join(',')}`,
    ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
    '--skip=essential/unlink',
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
    `--setup-hook=sync-in ${sq(opts.debCache)} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${sq(opts.debCache)}`,
    `--customize-hook=${customizeScript(spec)}`,
    spec.suite,
    '-',
  ];
  // A system PATH: mmdebstrap runs helpers (mmtarfilter via `env python3`, dpkg, apt) per
  // package; a user's PATH (pyenv shims, …) slowed each call down by a large factor here.
  const env = { ...process.env, PATH: SYSTEM_PATH, SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) };
  const deb = spawn('mmdebstrap', args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  // /dev entries: the engine provides /dev in every container; image layers carry none.
  const filter = spawn('mmtarfilter', ['--path-exclude=/dev/*'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  const failed = (name: string) =>
    new Promise<never>((_, reject) => {
      const p = name === 'mmdebstrap' ? deb : filter;
      p.once('error', (err) => reject(new Error(`${name} could not be started (${err.message}); install it with apt-get install mmdebstrap`)));
    });
  const exited = (p: import('node:child_process').ChildProcess, name: string) =>
    new Promise<void>((resolve, reject) => {
      p.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${name} failed (${signal ?? `exit ${code}`}); see the log above`))));
    });
  const stderrLines: string[] = [];
  deb.stderr.pipe(split2()).on('data', (line: string) => {
    stderrLines.push(line);
    opts.log(line);
  });
  filter.stderr.pipe(split2()).on('data', (line: string) => opts.log(`mmtarfilter: ${line}`));
  deb.stdout.pipe(filter.stdin);
  const tap = hashingTap();
  await Promise.race([
    Promise.all([pipeline(filter.stdout, tap, createWriteStream(out)), exited(deb, 'mmdebstrap'), exited(filter, 'mmtarfilter')]),
    failed('mmdebstrap'),
    failed('mmtarfilter'),
  ]);
  return tap.digest();
}

/** Paths that must never be in an image: apt credentials, netrc, mmdebstrap's apt config. */
const FORBIDDEN_PATH = /(^|\/)(etc\/apt\/auth\.conf(\.d\/.+)?|\.netrc|etc\/apt\/apt\.conf\.d\/99mmdebstrap)$/;
/** apt configuration lines that would carry host settings: proxies and credentials. */
const FORBIDDEN_APT_CONF = /(::Proxy|Acquire::https?::Proxy|Authorization|::Auth|password|login)/i;
const URL_WITH_CREDENTIALS = /[a-z+]+:\/\/[^/\s]*@/i;

function run(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.once('error', reject);
    p.once('close', (code) => {
      // GNU tar exits 2 when a wildcard matched nothing; that is not an error here.
      if (code === 0 || (cmd === 'tar' && code === 2 && Buffer.concat(err).includes('Not found in archive'))) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
  });
}

/**
 * Fails when the rootfs tarball holds apt credentials, a netrc, host apt configuration or a
 * source URL with user info. Checked on every build, not assumed from mmdebstrap's behaviour.
 */
export async function checkRootfs(tarFile: string): Promise<void> {
  const names = (await run('tar', ['-tf', tarFile])).toString('utf8').split('\n');
  const bad = names.filter((n) => FORBIDDEN_PATH.test(n.replace(/^\.\//, '')));
  if (bad.length > 0) throw new Error(`image rootfs ${tarFile} contains forbidden files: ${bad.join(', ')}`);
  const aptFiles = names.filter((n) => /^(\.\/)?etc\/apt\/(apt\.conf\.d\/[^/]+|apt\.conf|sources\.list(\.d\/[^/]+)?)$/.test(n));
  for (const f of aptFiles) {
    const text = (await run('tar', ['-xOf', tarFile, f])).toString('utf8');
    if (FORBIDDEN_APT_CONF.test(text) || URL_WITH_CREDENTIALS.test(text)) {
      throw new Error(`image rootfs ${tarFile}: ${f} carries proxy or credential settings; it must not be in an image`);
    }
  }
}
