import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { INTERPRETER_PLACEHOLDER, REAL_SHELL_PLACEHOLDER, WRAPPER_SCRIPT } from '../../src/wrappers/script.js';

// build/test/wrappers/ -> repository root
const ROOT = new URL('../../../', import.meta.url);

test('script.ts holds src/wrappers/sh byte for byte', () => {
  const file = readFileSync(new URL('src/wrappers/sh', ROOT));
  assert.ok(Buffer.from(WRAPPER_SCRIPT).equals(file), 'edit both src/wrappers/sh and WRAPPER_SCRIPT in src/wrappers/script.ts');
});

test('each placeholder occurs once, so a single replace fills it', () => {
  for (const p of [INTERPRETER_PLACEHOLDER, REAL_SHELL_PLACEHOLDER]) {
    assert.equal(WRAPPER_SCRIPT.split(p).length - 1, 1, p);
  }
  assert.ok(WRAPPER_SCRIPT.startsWith(`#!${INTERPRETER_PLACEHOLDER}\n`));
});

test('the script has nothing a String.raw template would interpret (dollar-brace, backquote)', () => {
  const file = readFileSync(new URL('src/wrappers/sh', ROOT), 'utf8');
  assert.ok(!file.includes('${'));
  assert.ok(!file.includes('`'));
});
