// Which running sidecar runs a tool (protocol.md "Execution", routing): kind tools go to their
// kind's sidecar; dev tools to the first running sidecar, in DEV_TOOL_PREFERENCE order, that
// has the tool on its PATH.
//
// Container state is cached and kept fresh by the engine's event stream (start, die, destroy,
// rename … of the configured containers drop the entry); without the event stream every lookup
// inspects. Tool probes are cached per container id, so a recreated sidecar is probed again
// (the reference never invalidated its cache, §8.22); a negative answer expires after
// NEGATIVE_PROBE_MS so a tool installed into a running sidecar is found.
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import split2 from 'split2';
import { AifoError } from '../../../protocol/errors.js';
import type { Route, ToolchainKind } from '../../../protocol/tools.js';
import { engineMessage, execOnce, isSidecarGone } from './engine.js';
import { PROBE_SCRIPT, SCRIPT_ARG0 } from './scripts.js';

/** A probe that takes longer than this counts as "tool not there" (a wedged sidecar). */
const PROBE_TIMEOUT_MS = 10_000;
/** How long "this sidecar lacks the tool" is believed. */
const NEGATIVE_PROBE_MS = 10_000;

export interface SidecarState {
  readonly id: string;
  readonly running: boolean;
}

/** The `--toolchain` hint of a 409, naming kinds whose images have the tool. */
function toolchainHint(tool: string, route: Route): string {
  if (route.type === 'kind') return `--toolchain ${route.kind}`;
  // make, gcc and cc also come with the rust image (rustc needs a C linker; make for build scripts).
  return ['make', 'gcc', 'cc'].includes(tool) ? '--toolchain c-cpp or --toolchain rust' : '--toolchain c-cpp';
}

export function noSidecar(tool: string, route: Route, why?: string): AifoError {
  return new AifoError(
    'AIFO_E_NO_SIDECAR',
    `tool '${tool}' not available in running sidecars; start an appropriate toolchain (e.g., ${toolchainHint(tool, route)})${why ? ` [${why}]` : ''}`,
  );
}

export class Placement {
  private readonly states = new Map<string, SidecarState>();
  private readonly probes = new Map<string, { has: boolean; at: number }>();
  /** When the engine last said a sidecar is being stopped or removed (kill, die, stop, destroy). */
  private readonly stopping = new Map<string, number>();
  private events: Readable | undefined;
  private eventsLive = false;
  private closed = false;

  constructor(
    private readonly docker: Dockerode,
    private readonly sidecars: ReadonlyMap<ToolchainKind, string>,
    private readonly log: (line: string) => void,
    private readonly verbose: boolean,
  ) {}

  containerOf(kind: ToolchainKind): string | undefined {
    return this.sidecars.get(kind);
  }

  /** True when the engine reported `name` being killed, stopped or removed after time `since`. */
  stoppedSince(name: string, since: number): boolean {
    return (this.stopping.get(name) ?? -Infinity) >= since;
  }

  /** Forget what is known about `name` (after a failed exec, or an event). */
  invalidate(name: string): void {
    this.states.delete(name);
  }

  private watch(): void {
    if (this.events || this.closed || this.sidecars.size === 0) return;
    const filters = JSON.stringify({ type: ['container'], container: [...this.sidecars.values()] });
    this.docker.getEvents({ filters }).then(
      (stream) => {
        const s = stream as unknown as Readable;
        if (this.closed) {
          s.destroy();
          return;
        }
        this.events = s;
        this.eventsLive = true;
        const lost = (): void => {
          // Without events the cache could go stale: drop it and inspect on every lookup
          // until the next lookup re-subscribes.
          this.eventsLive = false;
          this.events = undefined;
          this.states.clear();
        };
        s.pipe(split2()).on('data', (line: string) => {
          try {
            const ev = JSON.parse(line) as { Action?: string; Actor?: { ID?: string; Attributes?: { name?: string } } };
            const name = ev.Actor?.Attributes?.name;
            if (name) this.states.delete(name);
            if (name && /^(kill|die|stop|destroy)$/.test(ev.Action ?? '')) this.stopping.set(name, performance.now());
            for (const [n, st] of this.states) if (st.id === ev.Actor?.ID) this.states.delete(n);
          } catch {
            this.states.clear();
          }
        });
        s.once('error', lost);
        s.once('close', lost);
        s.once('end', lost);
      },
      (err: unknown) => {
        if (this.verbose) this.log(`aifo-coder: docker events unavailable (${engineMessage(err)}); sidecar state is not cached`);
      },
    );
  }

  /** Current state of a sidecar; `undefined` when the container does not exist. */
  async state(name: string): Promise<SidecarState | undefined> {
    this.watch();
    const cached = this.states.get(name);
    if (cached && this.eventsLive) return cached;
    try {
      const info = await this.docker.getContainer(name).inspect();
      const st = { id: info.Id, running: info.State.Running && !info.State.Paused && !info.State.Restarting };
      // Only a running sidecar is cached: one that is down is asked again next time, so a
      // sidecar started later is found at once.
      if (st.running && this.eventsLive) this.states.set(name, st);
      else this.states.delete(name);
      return st;
    } catch (err) {
      this.states.delete(name);
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw new AifoError('AIFO_E_SPAWN', `cannot inspect sidecar ${name}: ${engineMessage(err)}`, { cause: err });
    }
  }

  /** Whether `tool` is on the PATH of the running sidecar `name` (probed once, cached). */
  async has(name: string, st: SidecarState, tool: string): Promise<boolean> {
    const key = `${st.id}\0${tool}`;
    const hit = this.probes.get(key);
    if (hit && (hit.has || performance.now() - hit.at < NEGATIVE_PROBE_MS)) return hit.has;
    let has = false;
    try {
      const r = await execOnce(this.docker, name, ['/bin/sh', '-c', PROBE_SCRIPT, SCRIPT_ARG0, tool], PROBE_TIMEOUT_MS);
      has = r.code === 0;
    } catch (err) {
      if (isSidecarGone(err)) this.invalidate(name);
      if (this.verbose) this.log(`aifo-coder: probe for ${tool} in ${name} failed: ${engineMessage(err)}`);
      return false;
    }
    this.probes.set(key, { has, at: performance.now() });
    return has;
  }

  async place(tool: string, route: Route): Promise<ToolchainKind> {
    if (route.type === 'kind') {
      const name = this.sidecars.get(route.kind);
      if (!name) throw noSidecar(tool, route, `no ${route.kind} sidecar configured`);
      const st = await this.state(name);
      if (!st) throw noSidecar(tool, route, `sidecar ${name} does not exist`);
      if (!st.running) throw noSidecar(tool, route, `sidecar ${name} is not running`);
      return route.kind;
    }
    for (const kind of route.preference) {
      const name = this.sidecars.get(kind);
      if (!name) continue;
      const st = await this.state(name);
      if (!st?.running) continue;
      if (await this.has(name, st, tool)) return kind;
    }
    throw noSidecar(tool, route);
  }

  close(): void {
    this.closed = true;
    this.events?.destroy();
    this.events = undefined;
    this.eventsLive = false;
  }
}
