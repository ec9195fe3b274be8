// unit: the engine stream demultiplexer and the exit-code -> end record mapping of the docker
// runner. No engine needed.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { DemuxStream } from '../../../src/proxy/runners/docker/demux.js';
import { endFromExitCode } from '../../../src/proxy/runners/docker.js';

function frame(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

async function demux(chunks: Buffer[]): Promise<Buffer> {
  const d = new DemuxStream();
  Readable.from(chunks).pipe(d);
  const out: Buffer[] = [];
  for await (const c of d) out.push(c as Buffer);
  return Buffer.concat(out);
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('stdout and stderr frames are merged in arrival order, all 256 byte values intact', async () => {
  const wire = Buffer.concat([frame(1, ALL_BYTES), frame(2, Buffer.from('err\n')), frame(1, Buffer.from('out\n')), frame(1, Buffer.alloc(0))]);
  assert.deepEqual(await demux([wire]), Buffer.concat([ALL_BYTES, Buffer.from('err\nout\n')]));
});

test('headers and payloads split at every possible byte boundary', async () => {
  const wire = Buffer.concat([frame(1, Buffer.from('héllo wörld')), frame(2, ALL_BYTES), frame(1, Buffer.from('€'))]);
  const expected = Buffer.concat([Buffer.from('héllo wörld'), ALL_BYTES, Buffer.from('€')]);
  for (let cut = 1; cut < wire.length; cut++) {
    assert.deepEqual(await demux([wire.subarray(0, cut), wire.subarray(cut)]), expected, `cut at ${cut}`);
  }
  // One byte per chunk.
  assert.deepEqual(await demux([...wire].map((b) => Buffer.from([b]))), expected);
});

test('a stream that is not framed passes through unchanged', async () => {
  const text = Buffer.from('plain output that is not multiplexed\n');
  assert.deepEqual(await demux([text]), text);
});

test('exit codes: 0-128 and 160+ are exits, 129-159 a death by that signal', () => {
  assert.deepEqual(endFromExitCode(0), { kind: 'exited', code: 0 });
  assert.deepEqual(endFromExitCode(127), { kind: 'exited', code: 127 });
  assert.deepEqual(endFromExitCode(128), { kind: 'exited', code: 128 });
  assert.deepEqual(endFromExitCode(130), { kind: 'signaled', signal: 'INT' });
  assert.deepEqual(endFromExitCode(137), { kind: 'signaled', signal: 'KILL' });
  assert.deepEqual(endFromExitCode(143), { kind: 'signaled', signal: 'TERM' });
  assert.deepEqual(endFromExitCode(129), { kind: 'signaled', signal: 'HUP' });
  assert.deepEqual(endFromExitCode(255), { kind: 'exited', code: 255 });
  assert.equal(endFromExitCode(null).kind, 'spawnFailed');
});
