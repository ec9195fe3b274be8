// Execs by id, registered as soon as a request is accepted so that a /signal arriving before
// the tool starts cancels it (protocol.md "/signal").
import type { SignalName } from '../protocol/signals.js';
import type { RunningExec } from './runners/types.js';

export interface ExecEntry {
  readonly execId: string;
  running: RunningExec | undefined;
  /** A signal received before the tool started; the start is then cancelled. */
  cancelledBy: SignalName | undefined;
  /** Called by /signal and by shutdown; set by the exec handler. */
  onSignal: ((sig: SignalName) => void) | undefined;
}

export class ExecRegistry {
  readonly #entries = new Map<string, ExecEntry>();

  get size(): number {
    return this.#entries.size;
  }

  has(execId: string): boolean {
    return this.#entries.has(execId);
  }

  /** Registers a new exec; undefined if the id is already in use. */
  add(execId: string): ExecEntry | undefined {
    if (this.#entries.has(execId)) return undefined;
    const entry: ExecEntry = { execId, running: undefined, cancelledBy: undefined, onSignal: undefined };
    this.#entries.set(execId, entry);
    return entry;
  }

  get(execId: string): ExecEntry | undefined {
    return this.#entries.get(execId);
  }

  delete(entry: ExecEntry): void {
    if (this.#entries.get(entry.execId) === entry) this.#entries.delete(entry.execId);
  }

  entries(): ExecEntry[] {
    return [...this.#entries.values()];
  }
}
