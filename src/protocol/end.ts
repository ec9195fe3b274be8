// How an exec ended: one record, made once by the runner, turned by pure functions into the
// trailer, the log line and the shim's exit status (STYLE.md "How a command ends is data").
import { EXIT_PROTOCOL_ERROR, EXIT_TIMEOUT } from './wire.js';
import { signalNumber } from './signals.js';

export type ExecEnd =
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'signaled'; readonly signal: string }
  | { readonly kind: 'timedOut' }
  | { readonly kind: 'disconnected' }
  | { readonly kind: 'spawnFailed'; readonly reason: string }
  /** The toolchain sidecar stopped or was removed while the tool ran (docker runner). */
  | { readonly kind: 'sidecarGone'; readonly reason: string };

export const ended = {
  exited: (code: number): ExecEnd => ({ kind: 'exited', code }),
  signaled: (signal: string): ExecEnd => ({ kind: 'signaled', signal: signal.replace(/^SIG/, '') }),
  timedOut: (): ExecEnd => ({ kind: 'timedOut' }),
  disconnected: (): ExecEnd => ({ kind: 'disconnected' }),
  spawnFailed: (reason: string): ExecEnd => ({ kind: 'spawnFailed', reason }),
  sidecarGone: (reason: string): ExecEnd => ({ kind: 'sidecarGone', reason }),
};

/** `X-Aifo-End` of a sidecar that went away mid-exec; the shim explains it on stderr. */
export const END_SIDECAR_GONE = 'error=sidecar-gone';

/**
 * The exit status a caller sees: the tool's own code, 128+N for a death by signal N (as a
 * POSIX shell reports it), 124 for max runtime (as coreutils `timeout`), 86 for a start failure.
 */
export function exitCodeOf(end: ExecEnd): number {
  switch (end.kind) {
    case 'exited':
      return end.code;
    case 'signaled':
      return 128 + (signalNumber(end.signal) ?? 0);
    case 'timedOut':
      return EXIT_TIMEOUT;
    case 'disconnected':
      // Nobody reads it; for logs, the shell's value for a hang-up.
      return 128 + 1;
    case 'spawnFailed':
    case 'sidecarGone':
      // Failure must look like failure, not like the tool's own death by SIGKILL.
      return EXIT_PROTOCOL_ERROR;
  }
}

/** The `X-Aifo-End` trailer value: `exited`, `signal=<NAME>`, `timeout` or `error=<code>`. */
export function endTrailer(end: ExecEnd): string {
  switch (end.kind) {
    case 'exited':
      return 'exited';
    case 'signaled':
      return `signal=${end.signal}`;
    case 'timedOut':
      return 'timeout';
    case 'disconnected':
      return 'error=disconnected';
    case 'spawnFailed':
      return 'error=spawn';
    case 'sidecarGone':
      return END_SIDECAR_GONE;
  }
}

/** Word used in the proxy's `result … kind=<k>` log line. */
export function endLogKind(end: ExecEnd): string {
  switch (end.kind) {
    case 'exited':
      return 'exited';
    case 'signaled':
      return `signal-${end.signal}`;
    case 'timedOut':
      return 'timeout';
    case 'disconnected':
      return 'disconnected';
    case 'spawnFailed':
      return 'spawn-failed';
    case 'sidecarGone':
      return 'sidecar-gone';
  }
}

/** Reads an `X-Aifo-End` trailer back (clients); undefined when absent or unknown. */
export function parseEndTrailer(value: string | undefined, exitCode: number): ExecEnd | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (v === 'exited') return ended.exited(exitCode);
  if (v === 'timeout') return ended.timedOut();
  if (v.startsWith('signal=')) {
    const s = v.slice('signal='.length);
    return signalNumber(s) === undefined ? undefined : ended.signaled(s);
  }
  if (v === END_SIDECAR_GONE) return ended.sidecarGone('the toolchain sidecar went away');
  if (v.startsWith('error=')) return ended.spawnFailed(v.slice('error='.length));
  return undefined;
}

/** A Node `child_process` 'exit'/'close' pair as an end record. */
export function endFromChild(code: number | null, signal: NodeJS.Signals | null): ExecEnd {
  if (signal) return ended.signaled(signal);
  return ended.exited(code ?? EXIT_PROTOCOL_ERROR);
}
