// Process groups on this machine (local runner, orphan reaping).

/** True while any process of group `pgid` exists (EPERM: it exists but is not ours to signal). */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
