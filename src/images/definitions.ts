// Reads and validates the image definitions in images/*.json (DESIGN.md "Images": the Debian
// and the Nix builds read the same data). Validation here is where that data enters: package
// names, paths and env names end up in mmdebstrap arguments and hook scripts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLCHAIN_KINDS, type ToolchainKind } from '../protocol/tools.js';

export interface ToolchainImageDef {
  readonly kind: ToolchainKind;
  readonly suite: string;
  readonly packages: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Created with mode 1777: sidecars run as the caller's uid:gid, unknown to the image. */
  readonly writableDirs: readonly string[];
  /** Mount point of the kind's named cache volume (`aifo-cache-<kind>`). */
  readonly cache: string;
  /** npm packages (`name@range`) installed globally in a layer of their own under /usr/local. */
  readonly npm: readonly string[];
}

/** The local name of a kind's toolchain image; sidecars, doctor and the builder all use it. */
export function toolchainImageRef(kind: ToolchainKind, tag = 'local'): string {
  return `aifo-toolchain-${kind}:${tag}`;
}

export type Flavor = 'slim' | 'full';
export const FLAVORS: readonly Flavor[] = ['slim', 'full'];

export interface AgentImageDef {
  readonly suite: string;
  readonly variant: 'essential' | 'apt';
  readonly packages: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly writableDirs: readonly string[];
  readonly shimDir: string;
  readonly agents: Readonly<Record<string, { readonly npm: string; readonly bin: string }>>;
}

const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const PATH_RE = /^\/[A-Za-z0-9._/-]+$/;
const ENV_RE = /^[A-Z_][A-Z0-9_]*$/;
const SUITE_RE = /^[a-z]+$/;
const NPM_SPEC_RE = /^(@[a-z0-9._-]+\/)?[a-z0-9._-]+(@[0-9A-Za-z.^~*x<>=|+ -]+)?$/;

/** The package root: the nearest directory upward holding images/toolchains.json. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'images', 'toolchains.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`images/toolchains.json not found above ${from}; run from an aifo-toolchain checkout`);
    dir = up;
  }
}

export function imagesDir(): string {
  return path.join(packageRoot(), 'images');
}

function fail(file: string, what: string, value: unknown): never {
  throw new Error(`${file}: ${what} is ${JSON.stringify(value)}; fix the image definition`);
}

function strings(file: string, what: string, v: unknown, re: RegExp): string[] {
  if (!Array.isArray(v)) fail(file, `${what} (expected an array of strings)`, v);
  for (const s of v) if (typeof s !== 'string' || !re.test(s)) fail(file, `an entry of ${what} (expected ${re})`, s);
  return v as string[];
}

function envMap(file: string, what: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(file, `${what} (expected an object)`, v);
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_RE.test(k)) fail(file, `the name ${k} in ${what} (expected ${ENV_RE})`, k);
    if (typeof val !== 'string' || val.includes('\n')) fail(file, `${what}.${k} (expected a one-line string)`, val);
  }
  return v as Record<string, string>;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

export function loadToolchainDefs(dir = imagesDir()): Map<ToolchainKind, ToolchainImageDef> {
  const file = path.join(dir, 'toolchains.json');
  const raw = readJson(file);
  const suite = raw['suite'];
  if (typeof suite !== 'string' || !SUITE_RE.test(suite)) fail(file, 'suite', suite);
  const common = (raw['common'] ?? {}) as Record<string, unknown>;
  const kinds = (raw['kinds'] ?? {}) as Record<string, Record<string, unknown>>;
  const out = new Map<ToolchainKind, ToolchainImageDef>();
  for (const kind of TOOLCHAIN_KINDS) {
    const k = kinds[kind];
    if (!k) fail(file, `kinds.${kind}`, k);
    const cache = k['cache'];
    if (typeof cache !== 'string' || !PATH_RE.test(cache)) fail(file, `kinds.${kind}.cache`, cache);
    out.set(kind, {
      kind,
      suite,
      packages: [
        ...strings(file, 'common.packages', common['packages'] ?? [], PACKAGE_RE),
        ...strings(file, `kinds.${kind}.packages`, k['packages'], PACKAGE_RE),
      ],
      env: { ...envMap(file, 'common.env', common['env']), ...envMap(file, `kinds.${kind}.env`, k['env']) },
      writableDirs: [
        ...strings(file, 'common.writableDirs', common['writableDirs'] ?? [], PATH_RE),
        ...strings(file, `kinds.${kind}.writableDirs`, k['writableDirs'] ?? [], PATH_RE),
      ],
      cache,
      npm: strings(file, `kinds.${kind}.npm`, k['npm'] ?? [], NPM_SPEC_RE),
    });
  }
  return out;
}

export function loadAgentDef(flavor: Flavor, dir = imagesDir()): AgentImageDef {
  const file = path.join(dir, 'agent.json');
  const raw = readJson(file);
  const suite = raw['suite'];
  if (typeof suite !== 'string' || !SUITE_RE.test(suite)) fail(file, 'suite', suite);
  const flavors = (raw['flavors'] ?? {}) as Record<string, Record<string, unknown>>;
  const f = flavors[flavor];
  if (!f) fail(file, `flavors.${flavor}`, f);
  const variant = f['variant'];
  if (variant !== 'essential' && variant !== 'apt') fail(file, `flavors.${flavor}.variant`, variant);
  const shimDir = raw['shimDir'];
  if (typeof shimDir !== 'string' || !PATH_RE.test(shimDir)) fail(file, 'shimDir', shimDir);
  const agents: Record<string, { npm: string; bin: string }> = {};
  for (const [name, a] of Object.entries((raw['agents'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const npm = a['npm'];
    const bin = a['bin'];
    if (!/^[a-z0-9-]+$/.test(name)) fail(file, 'an agent name', name);
    if (typeof npm !== 'string' || !/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/.test(npm)) fail(file, `agents.${name}.npm`, npm);
    if (typeof bin !== 'string' || !/^[a-z0-9._-]+$/.test(bin)) fail(file, `agents.${name}.bin`, bin);
    agents[name] = { npm, bin };
  }
  return {
    suite,
    variant,
    packages: [...strings(file, 'packages', raw['packages'], PACKAGE_RE), ...strings(file, `flavors.${flavor}.packages`, f['packages'] ?? [], PACKAGE_RE)],
    env: envMap(file, 'env', raw['env']),
    writableDirs: strings(file, 'writableDirs', raw['writableDirs'] ?? [], PATH_RE),
    shimDir,
    agents,
  };
}
