// unit: aifo doctor's check of the engine socket's permissions, on real Unix sockets.
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { engineSocketPermissions } from '../../src/launcher/doctor.js';
import { tempDir } from '../helpers/proxy.js';

test('doctor: a world-writable engine socket is a problem with its fix; 0660 is fine; TCP engines are not checked', async (t) => {
  const sock = path.join(tempDir(t), 'docker.sock');
  const server = net.createServer().listen(sock);
  await new Promise((res) => server.once('listening', res));
  t.after(() => server.close());
  chmodSync(sock, 0o666);
  const open = await engineSocketPermissions(`unix://${sock}`);
  assert.equal(open?.ok, false);
  assert.match(open!.what, /world-writable \(666\)/);
  assert.equal(open!.fix, `chmod o-rwx ${sock} (and give access through the docker group)`);
  chmodSync(sock, 0o660);
  const fine = await engineSocketPermissions(`unix://${sock}`);
  assert.equal(fine?.ok, true, fine?.what);
  const missing = await engineSocketPermissions(`unix://${sock}.gone`);
  assert.equal(missing?.ok, false);
  assert.equal(await engineSocketPermissions('tcp://127.0.0.1:2375'), undefined);
});
