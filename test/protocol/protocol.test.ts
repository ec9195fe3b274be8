import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endTrailer, ended, exitCodeOf, parseEndTrailer } from '../../src/protocol/end.js';
import { decodeForm, encodeForm, FormDecodeError } from '../../src/protocol/form.js';
import { isValidExecId, newExecId } from '../../src/protocol/execid.js';
import { parseSignalName } from '../../src/protocol/signals.js';
import { allShimTools, routeTool } from '../../src/protocol/tools.js';

test('form codec round-trips every byte value and multi-byte UTF-8', () => {
  let all = '';
  for (let i = 1; i < 0x80; i++) all += String.fromCharCode(i);
  const values = [all, 'é ü 漢字 🙂', '', 'a+b&c=d%', ' '];
  const encoded = encodeForm(values.map((v) => ['arg', v]));
  assert.match(encoded, /^[A-Za-z0-9\-_.~%+=&]*$/);
  assert.deepEqual(decodeForm(Buffer.from(encoded)).map((p) => p.value), values);
});

test('form decoding: + is space, bad % kept, empty pairs skipped, missing = gives empty', () => {
  assert.deepEqual(decodeForm('a=1+2&&b&c=%zz%4&d=%41'), [
    { name: 'a', value: '1 2' },
    { name: 'b', value: '' },
    { name: 'c', value: '%zz%4' },
    { name: 'd', value: 'A' },
  ]);
  // UTF-8 split across %XX sequences decodes as UTF-8, not Latin-1 (reference §1.3 bug).
  assert.deepEqual(decodeForm('x=%C3%A9'), [{ name: 'x', value: 'é' }]);
  assert.throws(() => decodeForm('x=%C3'), FormDecodeError);
});

test('end records map to exit codes and trailers, and back', () => {
  assert.equal(exitCodeOf(ended.exited(3)), 3);
  assert.equal(exitCodeOf(ended.signaled('SIGINT')), 130);
  assert.equal(exitCodeOf(ended.signaled('KILL')), 137);
  assert.equal(exitCodeOf(ended.timedOut()), 124);
  assert.equal(exitCodeOf(ended.spawnFailed('x')), 86);
  assert.equal(endTrailer(ended.signaled('SIGTERM')), 'signal=TERM');
  assert.equal(endTrailer(ended.timedOut()), 'timeout');
  assert.deepEqual(parseEndTrailer('signal=HUP', 129), ended.signaled('HUP'));
  assert.deepEqual(parseEndTrailer('exited', 4), ended.exited(4));
  assert.equal(parseEndTrailer('bogus', 0), undefined);
  // A sidecar that went away mid-exec: a set-up failure (86), said so in the trailer.
  const gone = ended.sidecarGone('x');
  assert.equal(exitCodeOf(gone), 86);
  assert.equal(endTrailer(gone), 'error=sidecar-gone');
  assert.equal(parseEndTrailer('error=sidecar-gone', 86)?.kind, 'sidecarGone');
});

test('exec ids and signal names are validated', () => {
  assert.ok(isValidExecId(newExecId()));
  assert.match(newExecId(), /^[0-9a-f]{32}$/);
  for (const bad of ['', 'a/b', '..', 'a b', '$(x)', 'x'.repeat(65)]) assert.equal(isValidExecId(bad), false, bad);
  assert.equal(parseSignalName('sigint'), 'INT');
  assert.equal(parseSignalName(''), 'TERM');
  assert.equal(parseSignalName('STOP'), undefined);
});

test('routing table: kinds, dev tools, refusals', () => {
  assert.deepEqual(routeTool('cargo'), { type: 'kind', kind: 'rust' });
  assert.deepEqual(routeTool('tsc'), { type: 'kind', kind: 'node' });
  assert.deepEqual(routeTool('uvx'), { type: 'kind', kind: 'python' });
  assert.deepEqual(routeTool('gofmt'), { type: 'kind', kind: 'go' });
  assert.deepEqual(routeTool('make'), { type: 'dev', preference: ['c-cpp', 'rust', 'go', 'node', 'python'] });
  assert.equal(routeTool('sh'), undefined);
  assert.equal(routeTool('Cargo'), undefined);
  assert.ok(allShimTools().includes('say'));
});
