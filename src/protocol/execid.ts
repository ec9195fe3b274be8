import { randomBytes } from 'node:crypto';

/** protocol.md: `X-Aifo-Exec-Id` must match this; it names a directory, so it is never free text. */
const EXEC_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidExecId(id: string): boolean {
  return EXEC_ID_RE.test(id);
}

/** 128 random bits as 32 lowercase hex, the same shape as proxy-made ids and tokens. */
export function newExecId(): string {
  return randomBytes(16).toString('hex');
}
