// Tools left running by a proxy that died without cleaning up (SIGKILL, OOM, power cut). Each
// exec directory records which proxy owns it and which process leads the tool's group; a proxy
// starting on the same exec root stops the groups whose owner is gone (issue 7: a restarted
// proxy works at once and nothing from its predecessor lives on).
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { DISCONNECT_PLAN, escalate, heldClock, type Target } from '../terminate.js';
import { groupExists } from './group.js';

const OWNER_FILE = 'owner';

/** Start time of a process (field 22 of /proc/<pid>/stat, clock ticks since boot), or undefined. */
export function procStartTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const selfStart = procStartTime(process.pid) ?? '?';

/** Records this proxy and the group leader in the exec directory (which must exist). */
export function writeOwner(dir: string, leaderPid: number): void {
  writeFileSync(path.join(dir, OWNER_FILE), `${process.pid} ${selfStart} ${leaderPid} ${procStartTime(leaderPid) ?? '?'}\n`, { mode: 0o600 });
}

function alive(pid: number, start: string): boolean {
  return procStartTime(pid) === start;
}

/** Our pid namespace's inode: pids recorded in another namespace say nothing about this one. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * This boot of this kernel. Every host's first pid namespace has the same inode, so the
 * namespace alone does not tell two machines that share a sidecar (a remote engine) apart.
 */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}

const selfUid = String(process.getuid?.() ?? '?');

/** This proxy as the owner of an exec elsewhere (a sidecar): `PID START PIDNS BOOTID UID`. */
export function ownerId(): string {
  return `${process.pid} ${selfStart} ${pidNamespace()} ${bootId()} ${selfUid}`;
}

/**
 * True only when `owner` (as ownerId wrote it) provably names a proxy that is gone: same boot,
 * same pid namespace, and no process with that pid and start time. The owner's uid must be ours
 * (or we are root): /proc mounted with hidepid hides other users' processes, which would make a
 * live proxy look dead. Anything unreadable or different is treated as alive, so a doubtful exec
 * is never stopped.
 */
export function ownerGone(owner: readonly string[]): boolean {
  const [pid, start, ns, boot, uid] = owner;
  const known = (v: string | undefined): v is string => v !== undefined && v !== '' && v !== '?';
  if (!known(pid) || !/^\d+$/.test(pid) || !known(start) || !known(ns) || !known(boot) || !known(uid)) return false;
  if (ns !== pidNamespace() || boot !== bootId()) return false;
  if (uid !== selfUid && selfUid !== '0') return false;
  return !alive(Number(pid), start);
}

/**
 * Stops (INT, TERM, KILL) the process groups of exec directories whose owning proxy is dead and
 * removes those directories. A group is only signalled when it is provably the recorded one: its
 * leader still runs with the recorded start time, or the leader is gone but the group lives (a
 * process group id is not reused while any member exists). Returns the pgids stopped.
 */
export async function reapOrphans(execRoot: string, log?: (line: string) => void): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(execRoot);
  } catch {
    return [];
  }
  const stopped: number[] = [];
  await Promise.all(
    names.map(async (name) => {
      const dir = path.join(execRoot, name);
      let fields: string[];
      try {
        fields = (await readFile(path.join(dir, OWNER_FILE), 'utf8')).trim().split(' ');
      } catch {
        return; // not ours, or still being created
      }
      const [ownerPid, ownerStart, leader, leaderStart] = [Number(fields[0]), fields[1] ?? '', Number(fields[2]), fields[3] ?? ''];
      if (!Number.isInteger(ownerPid) || !Number.isInteger(leader) || leader <= 1) return;
      if (alive(ownerPid, ownerStart)) return;
      const ours = alive(leader, leaderStart) || (procStartTime(leader) === undefined && groupExists(leader));
      if (ours) {
        log?.(`aifo-coder: proxy: stopping process group ${leader} left by a proxy that is gone (exec_id=${name})`);
        const target: Target = {
          signal: async (sig) => {
            try {
              process.kill(-leader, `SIG${sig}`);
            } catch {
              /* gone */
            }
          },
          groupAlive: async () => groupExists(leader),
        };
        // Held timers: at start-up nothing else keeps the process alive while this waits.
        await escalate(target, DISCONNECT_PLAN, heldClock).finished;
        stopped.push(leader);
      }
      await rm(dir, { recursive: true, force: true });
    }),
  );
  return stopped;
}
