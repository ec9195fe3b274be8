// Signals a client may ask for through /signal, and the numbers used for 128+N exit codes.
// Numbers are Linux's (signal(7)); the proxy and sidecars are Linux.

export const SIGNAL_NUMBERS = {
  HUP: 1,
  INT: 2,
  KILL: 9,
  TERM: 15,
} as const;

export type SignalName = keyof typeof SIGNAL_NUMBERS;

const ALL_LINUX: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10,
  SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19,
  TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28,
  IO: 29, PWR: 30, SYS: 31,
};

/**
 * Parses a /signal `signal` field: INT TERM HUP KILL, optional `SIG` prefix, case-insensitive.
 * Empty or absent means TERM (protocol.md "/signal").
 */
export function parseSignalName(value: string | undefined): SignalName | undefined {
  const raw = (value ?? '').trim().toUpperCase();
  if (raw === '') return 'TERM';
  const name = raw.startsWith('SIG') ? raw.slice(3) : raw;
  return Object.hasOwn(SIGNAL_NUMBERS, name) ? (name as SignalName) : undefined;
}

/** Number of a signal by name (`SIGINT` or `INT`), for any Linux signal; undefined if unknown. */
export function signalNumber(name: string): number | undefined {
  const n = name.toUpperCase().replace(/^SIG/, '');
  return ALL_LINUX[n];
}

/** Name (without `SIG`) of a Linux signal number. */
export function signalName(num: number): string | undefined {
  for (const [k, v] of Object.entries(ALL_LINUX)) if (v === num) return k;
  return undefined;
}
