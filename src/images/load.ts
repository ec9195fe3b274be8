// Puts an image into the engine with `POST /images/load` (a `docker save`-format archive we
// write ourselves): every layer is a tar we made, so each layer's digest is the sha256 of known
// bytes and can be compared across builds (the /opt/aifo/bin layer in particular).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { tarStream, type TarEntry } from './tar.js';

export interface Layer {
  /** The layer tar on disk. */
  readonly file: string;
  /** sha256 (hex) of the layer tar: its diff id. */
  readonly sha256: string;
  readonly size: number;
  /** What made the layer, for `docker history`. */
  readonly createdBy: string;
}

export interface ImageConfig {
  readonly env: Readonly<Record<string, string>>;
  readonly cmd: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly workingDir?: string;
}

function engineArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** The image config JSON (OCI image spec "config", as `docker load` reads it). */
export function imageConfigJson(layers: readonly Layer[], cfg: ImageConfig, createdEpoch: number): Buffer {
  const created = new Date(createdEpoch * 1000).toISOString();
  const config = {
    architecture: engineArch(),
    os: 'linux',
    created,
    config: {
      Env: Object.entries(cfg.env).map(([k, v]) => `${k}=${v}`),
      Cmd: [...cfg.cmd],
      Labels: { ...cfg.labels },
      ...(cfg.workingDir ? { WorkingDir: cfg.workingDir } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.sha256}`) },
    history: layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/**
 * Loads `layers` + `cfg` as `ref` (e.g. `aifo-toolchain-rust:local`) and returns the image id.
 * Layers the engine already has are recognised by digest and not stored twice.
 */
export async function loadImage(docker: Dockerode, ref: string, layers: readonly Layer[], cfg: ImageConfig, createdEpoch: number): Promise<string> {
  const configJson = imageConfigJson(layers, cfg, createdEpoch);
  const configHex = createHash('sha256').update(configJson).digest('hex');
  const manifest = Buffer.from(
    JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [ref], Layers: layers.map((l) => `${l.sha256}/layer.tar`) }]),
    'utf8',
  );
  const entries: TarEntry[] = [{ type: 'file', name: `${configHex}.json`, mode: 0o644, size: configJson.length, data: configJson }];
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.sha256)) continue;
    seen.add(l.sha256);
    entries.push({ type: 'dir', name: l.sha256, mode: 0o755 });
    entries.push({ type: 'file', name: `${l.sha256}/layer.tar`, mode: 0o644, size: l.size, data: { path: l.file } });
  }
  entries.push({ type: 'file', name: 'manifest.json', mode: 0o644, size: manifest.length, data: manifest });
  const res = (await docker.loadImage(Readable.from(tarStream(entries, 0)), { quiet: true })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let msg: { error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      continue;
    }
    if (msg.error || msg.errorDetail) throw new Error(`docker load of ${ref} failed: ${msg.error ?? msg.errorDetail?.message}`);
  }
  const info = await docker.getImage(ref).inspect();
  if (info.Id !== `sha256:${configHex}`) throw new Error(`docker load of ${ref}: engine reports image ${info.Id}, expected sha256:${configHex}`);
  return info.Id;
}
