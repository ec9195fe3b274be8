// The one function that lays out /opt/aifo/bin (DESIGN.md "Layout"): the Nix images, the
// Debian-built images and host override directories (AIFO_SHIM_DIR) all call writeShimDir, and
// `aifo doctor` checks a directory with checkShimDir.
import { chmod, lstat, lutimes, mkdir, open, readFile, readlink, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AifoError } from '../protocol/errors.js';
import { allShimTools } from '../protocol/tools.js';
import { INTERPRETER_PLACEHOLDER, REAL_SHELL_PLACEHOLDER, WRAPPER_SCRIPT } from './script.js';

export const SHIM_NAME = 'aifo-shim';
export const WRAPPER_NAMES = ['bash', 'dash', 'sh'] as const;
export type WrapperName = (typeof WRAPPER_NAMES)[number];

/**
 * The shim's interpreter by default: Debian's node, where the agent images have it. Never
 * `/usr/bin/env node`: in /opt/aifo/bin, first on PATH, `node` is the shim itself, which would
 * make the shim its own interpreter (an endless exec loop). checkShimDir refuses that line.
 */
export const DEFAULT_NODE = '/usr/bin/node';
export const DEFAULT_REAL_SHELLS: Readonly<Record<WrapperName, string>> = {
  sh: '/bin/sh',
  bash: '/bin/bash',
  dash: '/bin/dash',
};

const DIR_MODE = 0o755;
const EXEC_MODE = 0o755;
// What lstat reports for a symlink on Linux; its own mode is never used for access.
const SYMLINK_MODE = 0o777;

export interface ShimLayoutOptions {
  /** Path of the aifo-shim bundle (a JS file) to install as <dir>/aifo-shim. */
  readonly shimBundle: string;
  /** Interpreter for the shim's shebang line; default '/usr/bin/env node'. A pinned absolute node path in Nix. */
  readonly node?: string;
  /**
   * Absolute paths of the real shells the wrappers exec; defaults /bin/sh, /bin/bash, /bin/dash.
   * `sh` also runs the wrapper scripts themselves (their shebang), so give a path whose basename is
   * sh: bash started as "sh" reads no startup files.
   */
  readonly realShells?: { readonly sh?: string; readonly bash?: string; readonly dash?: string };
  /** mtime (seconds since epoch) set on every entry, for reproducible layers; default 0 (1970). */
  readonly mtime?: number;
}

export interface LayoutEntry {
  readonly name: string;
  readonly type: 'file' | 'symlink';
  readonly mode: number;
  /** The symlink's target, always relative (`aifo-shim`), so the directory works wherever it is mounted. */
  readonly target?: string;
}

type Planned = LayoutEntry & { readonly content?: Buffer };

/**
 * Lay out a complete shim directory in `dir`: aifo-shim, one relative symlink per tool (symlinks,
 * not exec scripts: the shim takes the tool name from argv[1], which an `exec aifo-shim` script
 * would lose, reference section 5) and the sh, bash and dash wrappers. Entries replace what is
 * there, each by an atomic rename; other entries in `dir` are left alone. Returns the entries
 * written, sorted by name.
 */
export async function writeShimDir(dir: string, opts: ShimLayoutOptions): Promise<LayoutEntry[]> {
  const mtime = opts.mtime ?? 0;
  if (!Number.isInteger(mtime) || mtime < 0) {
    throw new AifoError('AIFO_E_CONFIG', `mtime: expected whole seconds since 1970 (>= 0), got ${mtime}`);
  }
  const plan = planEntries(await readFile(opts.shimBundle), opts);

  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE); // mkdir's mode is masked by the umask, and dir may have existed
  for (const e of plan) {
    const final = path.join(dir, e.name);
    const tmp = path.join(dir, `.${e.name}.aifo-tmp`);
    await rm(tmp, { force: true });
    if (e.type === 'symlink') {
      await symlink(e.target ?? SHIM_NAME, tmp);
      await lutimes(tmp, mtime, mtime);
    } else {
      await writeFile(tmp, e.content ?? Buffer.alloc(0), { mode: e.mode });
      await chmod(tmp, e.mode);
      await utimes(tmp, mtime, mtime);
    }
    await rename(tmp, final); // keeps the mtime; replaces a file or symlink in one step
  }
  // Last, because every rename above touched the directory's own mtime.
  await utimes(dir, mtime, mtime);
  return plan.map(({ content: _content, ...entry }) => entry);
}

function planEntries(bundle: Buffer, opts: ShimLayoutOptions): Planned[] {
  const shells: Record<WrapperName, string> = { ...DEFAULT_REAL_SHELLS };
  for (const name of WRAPPER_NAMES) {
    const given = opts.realShells?.[name];
    if (given !== undefined) shells[name] = checkShellPath(`realShells.${name}`, given);
  }
  const plan: Planned[] = [
    { name: SHIM_NAME, type: 'file', mode: EXEC_MODE, content: withShebang(bundle, opts.node ?? DEFAULT_NODE) },
  ];
  for (const name of WRAPPER_NAMES) {
    plan.push({ name, type: 'file', mode: EXEC_MODE, content: Buffer.from(renderWrapper(shells[name], shells.sh)) });
  }
  for (const tool of allShimTools()) {
    if (plan.some((e) => e.name === tool)) {
      throw new AifoError('AIFO_E_CONFIG', `tool '${tool}': clashes with a file of the shim directory`);
    }
    plan.push({ name: tool, type: 'symlink', mode: SYMLINK_MODE, target: SHIM_NAME });
  }
  // Code-unit order, not localeCompare: the same on every machine, like a tar layer's.
  return plan.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The wrapper text for one shell: `realShell` is exec'd, `interpreter` runs the script. */
export function renderWrapper(realShell: string, interpreter: string): string {
  const real = checkShellPath('real shell', realShell);
  const interp = checkShellPath('wrapper interpreter', interpreter);
  return WRAPPER_SCRIPT.replace(INTERPRETER_PLACEHOLDER, interp).replace(REAL_SHELL_PLACEHOLDER, real);
}

// The path goes into a shebang (split at blanks by the kernel) and into a single-quoted sh
// string, so only characters that need no quoting anywhere: Nix store and FHS paths fit.
function checkShellPath(field: string, value: string): string {
  if (!/^\/[A-Za-z0-9._+/-]+$/.test(value)) {
    throw new AifoError(
      'AIFO_E_CONFIG',
      `${field}: expected an absolute path of letters, digits and ._+/- only, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

// Linux reads at most 127 bytes of a "#!" line before 5.1 (BINPRM_BUF_SIZE was 128).
const MAX_SHEBANG = 127;

function withShebang(bundle: Buffer, node: string): Buffer {
  if (!node.startsWith('/') || /[\n\r\0]/.test(node) || node.length + 2 > MAX_SHEBANG) {
    throw new AifoError(
      'AIFO_E_CONFIG',
      `node: expected an absolute interpreter path (and optional argument) on one line of at most ${MAX_SHEBANG - 2} bytes, got ${JSON.stringify(node)}`,
    );
  }
  let body = bundle;
  if (body.subarray(0, 2).toString('latin1') === '#!') {
    const nl = body.indexOf(0x0a);
    body = nl === -1 ? Buffer.alloc(0) : body.subarray(nl + 1);
  }
  return Buffer.concat([Buffer.from(`#!${node}\n`), body]);
}

/**
 * Problems with a shim directory, one line each; empty when it is complete. For `aifo doctor`
 * and for a host override directory before it is mounted. Does not look at the real shells the
 * wrappers name: they are paths inside the agent container, not on this machine.
 */
export async function checkShimDir(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return [`${dir}: not a directory`];

  const checkExecutable = async (name: string, wrapper: boolean): Promise<string | undefined> => {
    const what = wrapper ? 'shell wrapper' : 'the shim';
    const st = await lstat(path.join(dir, name)).catch(() => undefined);
    if (!st) return `${name}: missing (${what})`;
    if (!st.isFile()) return `${name}: not a regular file (${what})`;
    if ((st.mode & 0o111) !== 0o111) {
      return `${name}: not executable by everyone (mode ${(st.mode & 0o7777).toString(8)}, expected 755)`;
    }
    // The wrappers are small; of the shim bundle only its first line matters here.
    const text = await readHead(path.join(dir, name), 16 * 1024);
    if (wrapper && (text.includes(INTERPRETER_PLACEHOLDER) || text.includes(REAL_SHELL_PLACEHOLDER))) {
      return `${name}: unfilled placeholder (write it with writeShimDir)`;
    }
    if (!text.startsWith('#!/')) return `${name}: no "#!/" interpreter line`;
    const nl = text.indexOf('\n');
    const first = nl < 0 ? text : text.slice(0, nl);
    if (!wrapper && /^#!\S*\/env(\s+-\S+)*\s+node(\s|$)/.test(first)) {
      return `${name}: its #! line looks node up on PATH (${first.slice(2).trim()}), where /opt/aifo/bin/node is the shim itself; write it with --node /usr/bin/node (the agent's node)`;
    }
    return undefined;
  };

  const shim = await checkExecutable(SHIM_NAME, false);
  if (shim) problems.push(shim);
  for (const name of WRAPPER_NAMES) {
    const p = await checkExecutable(name, true);
    if (p) problems.push(p);
  }
  for (const tool of allShimTools()) {
    const st = await lstat(path.join(dir, tool)).catch(() => undefined);
    if (!st) {
      problems.push(`${tool}: missing symlink to ${SHIM_NAME}`);
    } else if (!st.isSymbolicLink()) {
      problems.push(`${tool}: not a symlink (expected ${tool} -> ${SHIM_NAME}; the shim needs the tool name in argv)`);
    } else {
      const target = await readlink(path.join(dir, tool));
      if (target !== SHIM_NAME) problems.push(`${tool}: points to ${target}, expected ${SHIM_NAME}`);
    }
  }
  return problems;
}

async function readHead(file: string, max: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}
