// Marker files under $HOME/.aifo-exec/<ExecId>/ (protocol.md "The shim"): they tell the proxy
// and the shell wrappers which terminal and parent shell belong to a tool exec.
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import path from 'node:path';

export interface ProcStat {
  readonly ppid: number;
  readonly pgrp: number;
  readonly tpgid: number;
}

/** Fields 4, 5 and 8 of /proc/<pid>/stat (proc(5)); the comm field may contain spaces. */
export function readProcStat(pid: number | 'self' = 'self'): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), pgrp: Number(rest[2]), tpgid: Number(rest[5]) };
  } catch {
    return undefined;
  }
}

/** The terminal on stdin, else stdout, else undefined. */
export function controllingTty(): string | undefined {
  for (const fd of [0, 1]) {
    if (!isatty(fd)) continue;
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function markerDir(home: string, execId: string): string {
  return path.join(home, '.aifo-exec', execId);
}

/** Writes the markers (best effort: a read-only HOME must not stop the tool). */
export function writeMarkers(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = readProcStat();
    writeFileSync(path.join(dir, 'agent_ppid'), `${process.ppid}\n`);
    if (st) writeFileSync(path.join(dir, 'agent_tpgid'), `${st.tpgid}\n`);
    const tty = controllingTty();
    if (tty) {
      writeFileSync(path.join(dir, 'tty'), `${tty}\n`);
      writeFileSync(path.join(dir, 'no_shell_on_tty'), '');
    }
  } catch {
    /* best effort */
  }
}

export function removeMarkers(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}
