// docs/errors.md and the exported error table must say the same thing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AifoError, ERROR_TABLE, type ErrorCode } from '../../src/protocol/errors.js';

test('docs/errors.md documents exactly the exported error codes', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| AIFO_E_'));
  const documented = new Map(
    rows.map((l) => {
      const [code, status, exit, body] = l.split('|').slice(1, 5).map((c) => c.trim());
      return [code!, { status: status === '—' ? 0 : Number(status), exitCode: Number(exit), body: body! }];
    }),
  );
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_TABLE).sort());
  for (const [code, spec] of Object.entries(ERROR_TABLE)) {
    const { detailIsMessage, ...plain } = spec as typeof spec & { detailIsMessage?: boolean };
    assert.deepEqual(documented.get(code), plain, code);
    const e = new AifoError(code as ErrorCode, 'detail');
    assert.equal(e.status, spec.status);
    assert.equal(e.exitCode, spec.exitCode);
    assert.equal(e.body, detailIsMessage ? 'detail\n' : `${spec.body}: detail\n`);
  }
});
