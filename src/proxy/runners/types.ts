// The contract between the proxy and whatever runs a tool (DESIGN.md "Runners"). Every runner
// gives the same guarantees: merged output as a byte stream, the end record, signals to the
// whole process group, and a way to ask whether that group still exists.
import type { Readable } from 'node:stream';
import type { ExecEnd } from '../../protocol/end.js';
import type { SignalName } from '../../protocol/signals.js';
import type { Route, ToolchainKind } from '../../protocol/tools.js';

export interface ExecSpec {
  /** Validated exec id ([A-Za-z0-9_-]{1,64}). */
  readonly execId: string;
  readonly tool: string;
  readonly args: readonly string[];
  /** Absolute, normalised, inside the workspace root. */
  readonly cwd: string;
  /** Allocate a terminal (v2 default); false for v1 or AIFO_TOOLEEXEC_TTY=0. */
  readonly tty: boolean;
  /** The toolchain chosen by `Runner.place`. */
  readonly kind: ToolchainKind;
}

export interface RunningExec {
  /** stdout and stderr of the tool, merged in order. Ends when the output is drained. */
  readonly output: Readable;
  /**
   * Resolves once with how the tool ended, after the process group is gone (or, for a
   * grandchild that keeps running in the group, when the leader ended and the group was
   * killed by escalation). Never rejects.
   */
  readonly ended: Promise<ExecEnd>;
  /** Sends a signal to the whole process group; resolves when delivered (or already gone). */
  signal(sig: SignalName): Promise<void>;
  /** True while any process of the group exists. */
  groupAlive(): Promise<boolean>;
}

export interface Runner {
  readonly name: string;
  /**
   * Picks the toolchain that will run `tool`, or throws AifoError AIFO_E_NO_SIDECAR (409) when
   * no running sidecar provides it.
   */
  place(tool: string, route: Route): Promise<ToolchainKind>;
  /** Starts the tool; throws AifoError AIFO_E_SPAWN (500) or AIFO_E_BAD_REQUEST on bad cwd. */
  start(spec: ExecSpec): Promise<RunningExec>;
  /**
   * Stops the tools a proxy that is gone left running where this runner runs them (the proxy
   * CLI calls it once at start-up, before it listens). Lines go to `log`.
   */
  reapOrphans(log: (line: string) => void): Promise<void>;
  /** Releases the runner's resources (connections, caches). */
  close(): Promise<void>;
}
