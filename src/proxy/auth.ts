import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 128 random bits as 32 lowercase hex (protocol.md "Requests"). */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Checks an `Authorization` header: scheme `Bearer` (case-insensitive), then the token, compared
 * in constant time. Both sides are hashed first so the comparison time does not depend on the
 * length of the guess either (timingSafeEqual needs equal lengths).
 */
export function isAuthorized(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const v = header.trim();
  const m = /^(\S+)\s+(.*)$/s.exec(v);
  if (!m || m[1]!.toLowerCase() !== 'bearer') return false;
  const given = createHash('sha256').update(m[2]!.trim(), 'utf8').digest();
  const want = createHash('sha256').update(token, 'utf8').digest();
  return timingSafeEqual(given, want);
}
