// Escalation of signals to a process group: one module for Ctrl-C (/signal), client
// disconnect, max runtime and proxy shutdown (STYLE.md "Termination").
import type { SignalName } from '../protocol/signals.js';

/** protocol.md "Disconnect": INT at ~150 ms lets the tool notice a Ctrl-C-like stop quickly. */
export const DISCONNECT_INT_MS = 150;
/** protocol.md: TERM at ~500 ms, for tools that ignore or trap INT. */
export const DISCONNECT_TERM_MS = 500;
/** protocol.md: KILL at ~1500 ms; the issue requires the group gone within 2 s of a dropped client. */
export const DISCONNECT_KILL_MS = 1500;

/** protocol.md "Max runtime": TERM 5 s after INT, KILL 10 s after INT. */
export const MAX_RUNTIME_TERM_AFTER_MS = 5_000;
export const MAX_RUNTIME_KILL_AFTER_MS = 10_000;

/**
 * After a client's own /signal, how long the group may take to end by itself before the next
 * signal: the same 5 s/10 s as max runtime, long enough for `cargo` or `npm` to clean up after an
 * INT, short enough that a tool ignoring it does not live on (protocol.md "Escalation never stops
 * half way"; the Rust reference suppressed it, §8).
 */
export const AFTER_SIGNAL_NEXT_MS = 5_000;

/** How often the liveness of a group is checked while an escalation waits. */
export const GROUP_POLL_MS = 50;

export interface Step {
  /** Milliseconds after the escalation starts. */
  readonly at: number;
  readonly signal: SignalName;
}

export const DISCONNECT_PLAN: readonly Step[] = [
  { at: DISCONNECT_INT_MS, signal: 'INT' },
  { at: DISCONNECT_TERM_MS, signal: 'TERM' },
  { at: DISCONNECT_KILL_MS, signal: 'KILL' },
];

export const MAX_RUNTIME_PLAN: readonly Step[] = [
  { at: 0, signal: 'INT' },
  { at: MAX_RUNTIME_TERM_AFTER_MS, signal: 'TERM' },
  { at: MAX_RUNTIME_KILL_AFTER_MS, signal: 'KILL' },
];

/** What follows a client's /signal: the signal now, then the stronger ones if still alive. */
export function planAfterSignal(sig: SignalName): Step[] {
  switch (sig) {
    case 'KILL':
      return [{ at: 0, signal: 'KILL' }];
    case 'TERM':
      return [
        { at: 0, signal: 'TERM' },
        { at: AFTER_SIGNAL_NEXT_MS, signal: 'KILL' },
      ];
    case 'INT':
    case 'HUP':
      return [
        { at: 0, signal: sig },
        { at: AFTER_SIGNAL_NEXT_MS, signal: 'TERM' },
        { at: 2 * AFTER_SIGNAL_NEXT_MS, signal: 'KILL' },
      ];
  }
}

/** A clock, injectable so time-based logic is tested without sleeping. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/** Timers that do not keep the process alive: a server's escalations end with the server. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Timers that keep the process alive, for escalations awaited when nothing else runs. */
export const heldClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export interface Target {
  signal(sig: SignalName): Promise<void>;
  groupAlive(): Promise<boolean>;
}

export interface Escalation {
  /** Stops further signals (the group is gone, or a stronger plan replaced this one). */
  cancel(): void;
  /** Resolves when the plan ran out or was cancelled. */
  readonly finished: Promise<void>;
}

/**
 * Runs a plan against a group: each step fires at its time unless the group is already gone.
 * `onStep` is told before each signal (for the log). Steps never fire after cancel().
 */
export function escalate(
  target: Target,
  plan: readonly Step[],
  clock: Clock = realClock,
  onStep?: (step: Step) => void,
): Escalation {
  let cancelled = false;
  let timer: { cancel(): void } | undefined;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  const start = clock.now();

  const runStep = async (i: number): Promise<void> => {
    if (cancelled) return resolveFinished();
    const step = plan[i];
    if (!step) return resolveFinished();
    // A group that is already gone needs no further signal (and its pgid could be reused).
    if (i > 0 && !(await target.groupAlive().catch(() => false))) return resolveFinished();
    if (cancelled) return resolveFinished();
    onStep?.(step);
    await target.signal(step.signal).catch(() => undefined);
    schedule(i + 1);
  };
  const schedule = (i: number): void => {
    const step = plan[i];
    if (!step || cancelled) return resolveFinished();
    const wait = Math.max(0, start + step.at - clock.now());
    timer = clock.setTimeout(() => void runStep(i), wait);
  };
  schedule(0);
  return {
    cancel() {
      cancelled = true;
      timer?.cancel();
      resolveFinished();
    },
    finished,
  };
}
