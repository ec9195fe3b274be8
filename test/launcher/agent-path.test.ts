// unit: the PATH `aifo run` gives the agent container — the shims first, then the image's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentPath } from '../../src/launcher/run.js';

test('agentPath puts /opt/aifo/bin first, keeps the image\'s entries in order and drops other copies of it', () => {
  assert.equal(agentPath('/usr/local/bin:/usr/bin:/bin'), '/opt/aifo/bin:/usr/local/bin:/usr/bin:/bin');
  assert.equal(agentPath('/usr/bin:/opt/aifo/bin:/bin:/opt/aifo/bin/'), '/opt/aifo/bin:/usr/bin:/bin');
  assert.equal(agentPath('/opt/aifo/bin:/usr/bin'), '/opt/aifo/bin:/usr/bin');
  assert.equal(agentPath('::/usr/bin:'), '/opt/aifo/bin:/usr/bin');
});

test('agentPath falls back to Debian\'s default PATH when the image names none', () => {
  assert.equal(agentPath(undefined), '/opt/aifo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
});
