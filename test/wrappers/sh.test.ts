// The sh/bash/dash wrapper as real processes: each of dash, bash and busybox sh runs the wrapper
// script, and each is also the real shell it execs. A fixture `print-argv` stands in for the real
// shell where the exact argument vector is the point.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderWrapper } from '../../src/wrappers/layout.js';
import { program } from '../helpers/programs.js';

const ROOT = new URL('../../../', import.meta.url);
const BUSYBOX = program('busybox');
const SCRIPT = program('script');

let tmp = '';
// Every shell as one absolute path: busybox is reached through a link named sh, the way busybox
// images provide /bin/sh.
const shells: Record<string, string> = { dash: program('dash'), bash: program('bash'), busybox: '' };

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'aifo-wrapper-'));
  if (BUSYBOX) {
    mkdirSync(path.join(tmp, 'busybox'));
    symlinkSync(BUSYBOX, path.join(tmp, 'busybox', 'sh'));
    shells.busybox = path.join(tmp, 'busybox', 'sh');
  }
  // print-argv: the fixture real shell that prints its arguments NUL-terminated.
  writeFileSync(path.join(tmp, 'print-argv'), '#!/bin/sh\nfor a do printf "%s\\0" "$a"; done\n', { mode: 0o755 });
  // Decoys on PATH: a wrapper that looked its shell up on PATH would run one of these.
  mkdirSync(path.join(tmp, 'decoys'));
  for (const n of ['sh', 'bash', 'dash']) {
    writeFileSync(path.join(tmp, 'decoys', n), '#!/bin/sh\necho decoy; exit 99\n', { mode: 0o755 });
  }
  mkdirSync(path.join(tmp, 'home'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
/** Write the wrapper filled for `real`, run by interpreter `interp`, as a file; return its path. */
function wrapper(real: string, interp: string): string {
  const file = path.join(tmp, `wrapper-${seq++}`);
  writeFileSync(file, renderWrapper(real, interp), { mode: 0o755 });
  return file;
}

interface RunOptions {
  readonly env?: Record<string, string>;
  readonly input?: string;
}
function run(interp: string, real: string, args: readonly string[], o: RunOptions = {}): SpawnSyncReturns<string> {
  const env = { PATH: `${path.join(tmp, 'decoys')}:/usr/bin:/bin`, HOME: path.join(tmp, 'home'), ...o.env };
  const r = spawnSync(interp, [wrapper(real, interp), ...args], {
    env,
    input: o.input ?? '',
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error) throw r.error;
  return r;
}
function argvOf(r: SpawnSyncReturns<string>): string[] {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\0').slice(0, -1);
}

for (const [iname] of Object.entries(shells)) {
  describe(`argument handling, wrapper run by ${iname}`, () => {
    const argv = (args: readonly string[], env?: Record<string, string>): string[] =>
      argvOf(run(shells[iname] ?? '', path.join(tmp, 'print-argv'), args, env ? { env } : {}));

    // protocol.md "Wrappers": -c CMD / -lc CMD run "CMD; exit" with the same flag.
    test('protocol rule: -c CMD becomes -c "CMD<newline>exit", nothing else changes', () => {
      assert.deepEqual(argv(['-c', 'echo hi']), ['-c', 'echo hi\nexit']);
    });
    test('protocol rule: -lc keeps its flag (login semantics kept) and the positional args', () => {
      assert.deepEqual(argv(['-lc', 'echo "$1"', 'zero', 'a b']), ['-lc', 'echo "$1"\nexit', 'zero', 'a b']);
    });
    const cases: Array<[string, string[], string[]]> = [
      ['-l -c', ['-l', '-c', 'x'], ['-l', '-c', 'x\nexit']],
      ['-ec cluster', ['-ec', 'x', 'n'], ['-ec', 'x\nexit', 'n']],
      ['-c then options', ['-c', '-e', 'x'], ['-c', '-e', 'x\nexit']],
      ['-o takes a word', ['-o', 'pipefail', '-c', 'x'], ['-o', 'pipefail', '-c', 'x\nexit']],
      ['-O (bash) takes a word', ['-O', 'extglob', '-c', 'x'], ['-O', 'extglob', '-c', 'x\nexit']],
      ['+o takes a word', ['+o', 'c', '-c', 'x'], ['+o', 'c', '-c', 'x\nexit']],
      ['bash long options first', ['--login', '--rcfile', '-c', '-c', 'x'], ['--login', '--rcfile', '-c', '-c', 'x\nexit']],
      ['-- ends the options', ['-c', '--', '-x', 'y'], ['-c', '--', '-x\nexit', 'y']],
      ['empty command and empty args kept', ['-c', '', '', ''], ['-c', '\nexit', '', '']],
      ['no expansion of the caller data', ['-c', 'echo *', '$HOME', 'a\nb', "'"], ['-c', 'echo *\nexit', '$HOME', 'a\nb', "'"]],
    ];
    for (const [name, args, want] of cases) test(`-c found: ${name}`, () => assert.deepEqual(argv(args), want));

    const untouched: Array<[string, string[]]> = [
      ['no arguments', []],
      ['a script file, -c after it is its argument', ['build.sh', '-c', 'x']],
      ['-s with arguments', ['-s', 'a', 'b']],
      ['-c without a command string', ['-c']],
      ['-x script', ['-x', 'build.sh']],
    ];
    for (const [name, args] of untouched) test(`passed through unchanged: ${name}`, () => assert.deepEqual(argv(args), args));

    test('protocol rule: AIFO_SH_WRAP_DISABLE=1 execs the real shell with the arguments untouched', () => {
      assert.deepEqual(argv(['-lc', 'x', 'a'], { AIFO_SH_WRAP_DISABLE: '1' }), ['-lc', 'x', 'a']);
      assert.deepEqual(argv(['-lc', 'x'], { AIFO_SH_WRAP_DISABLE: '0' }), ['-lc', 'x\nexit']);
    });
  });
}

for (const [iname] of Object.entries(shells)) {
  for (const [rname] of Object.entries(shells)) {
    describe(`wrapper run by ${iname}, real shell ${rname}`, () => {
      const sh = (args: readonly string[], o?: RunOptions) => run(shells[iname] ?? '', shells[rname] ?? '', args, o);
      const ok = (r: SpawnSyncReturns<string>, stdout: string, status = 0): void => {
        assert.equal(r.stdout, stdout, r.stderr);
        assert.equal(r.status, status, r.stderr);
      };

      test("sh -c 'echo hi' prints hi, exit 0", () => ok(sh(['-c', 'echo hi']), 'hi\n'));
      test("protocol rule: bash -lc 'exit 7' keeps the exit status 7", () => ok(sh(['-lc', 'exit 7']), '', 7));
      test('the status of the last command is the exit status', () => ok(sh(['-c', 'echo x; false']), 'x\n', 1));
      test('quoting kept', () => ok(sh(['-c', 'printf "%s\\n" "$1"', '_', 'a b']), 'a b\n'));
      test('positional args: $0 $1 $2 $#', () => {
        ok(sh(['-c', 'echo "$0|$1|$2|$#"', 'zero', 'one', 'two three']), 'zero|one|two three|2\n');
      });
      test('-l -c and -ec work', () => {
        ok(sh(['-l', '-c', 'echo "$1"', '_', 'l']), 'l\n');
        ok(sh(['-ec', 'false; echo not reached']), '', 1);
      });
      // Why the separator is a newline: "CMD; exit" is a syntax error (status 2) in all three.
      test('a command ending in & still works', () => ok(sh(['-c', 'true &']), ''));
      test('a command ending in a here-document still works', () => ok(sh(['-c', 'cat <<EOF\nhi\nEOF']), 'hi\n'));
      test('the real shell is found by absolute path, never via PATH (decoys on PATH)', () => {
        ok(sh(['-c', 'echo real']), 'real\n');
      });
      test('stdin-fed non-interactive shell passes through', () => {
        ok(sh([], { input: 'echo "piped $#"\nexit 4\n' }), 'piped 0\n', 4);
        ok(sh(['-s', 'a', 'b'], { input: 'echo "$1-$2"\n' }), 'a-b\n');
      });
      test('a script file runs with its arguments', () => {
        const file = path.join(tmp, `script-${iname}-${rname}.sh`);
        writeFileSync(file, 'echo "script $1"\nexit 5\n');
        ok(sh([file, 'x']), 'script x\n', 5);
      });
      test('AIFO_SH_WRAP_DISABLE=1 passes through', () => {
        ok(sh(['-c', 'echo "$1"; exit 3', '_', 'a b'], { env: { AIFO_SH_WRAP_DISABLE: '1' } }), 'a b\n', 3);
      });
    });
  }
}

test('the unfilled source refuses to run instead of guessing a shell', () => {
  const r = spawnSync(program('dash'), [new URL('src/wrappers/sh', ROOT).pathname, '-c', 'echo hi'], { encoding: 'utf8' });
  assert.equal(r.status, 127);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /no real shell configured/);
});

// protocol.md "Wrappers": an interactive shell on a tty that a tool exec marked no_shell_on_tty
// within AIFO_SH_RECENT_SECS (default 10) exits at once. script(1) gives the wrapper a real tty;
// the command it runs writes the markers the way aifo-shim does (tty = this terminal) and then
// execs the wrapper on that terminal. stdin is empty, so script(1) sends the terminal an EOF: an
// interactive dash that starts runs $ENV (which prints STARTED) and ends at the EOF; a wrapper
// that exits at once prints nothing.
describe('no_shell_on_tty', () => {
  const OLD = Math.floor(Date.now() / 1000) - 60;
  const STARTED = 'aifo-test-shell-started';
  interface TtyCase {
    readonly tty?: 'same' | 'other';
    readonly flag?: boolean;
    readonly old?: boolean;
    readonly args?: string;
    readonly env?: Record<string, string>;
  }
  function onTty(iname: string, c: TtyCase): { out: string; status: number | null } {
    const home = mkdtempSync(path.join(tmp, 'home-'));
    const marker = path.join(home, '.aifo-exec', 'e1');
    mkdirSync(marker, { recursive: true });
    if (c.flag !== false) writeFileSync(path.join(marker, 'no_shell_on_tty'), '');
    if (c.old) {
      utimesSync(path.join(marker, 'no_shell_on_tty'), OLD, OLD);
    }
    const w = wrapper(program('dash'), shells[iname] ?? '');
    const envFile = path.join(home, 'env.sh');
    writeFileSync(envFile, `echo ${STARTED}\n`);
    // Fixed text; the paths travel in the environment.
    const writeTty = c.tty === 'other' ? 'echo /dev/pts/99999 >"$M/tty"' : 'tty >"$M/tty"';
    const cmd = `${writeTty}; ${c.old ? 'touch -d "@$OLD" "$M/tty" "$M";' : ''} exec "$I" "$W" ${c.args ?? ''}`;
    const r = spawnSync(SCRIPT, ['-qec', cmd, '/dev/null'], {
      env: { PATH: '/usr/bin:/bin', HOME: home, SHELL: '/bin/sh', ENV: envFile, M: marker, I: shells[iname] ?? '', W: w, OLD: String(OLD), ...c.env },
      input: '',
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.error) throw r.error;
    return { out: r.stdout, status: r.status };
  }
  const ran = (out: string): boolean => out.includes(STARTED);

  for (const [iname] of Object.entries(shells)) {
    describe(`wrapper run by ${iname}`, () => {
      test('protocol rule: interactive shell on a freshly marked tty exits 0 at once', () => {
        const r = onTty(iname, {});
        assert.equal(r.status, 0, r.out);
        assert.ok(!ran(r.out), r.out);
      });
      test('marker older than AIFO_SH_RECENT_SECS: the shell starts', () => {
        const r = onTty(iname, { old: true });
        assert.ok(ran(r.out), r.out);
      });
      test('AIFO_SH_RECENT_SECS widens the window', () => {
        const r = onTty(iname, { old: true, env: { AIFO_SH_RECENT_SECS: '100000' } });
        assert.ok(!ran(r.out), r.out);
      });
      test('marker for a different tty: the shell starts', () => {
        assert.ok(ran(onTty(iname, { tty: 'other' }).out));
      });
      test('tty marker without no_shell_on_tty: the shell starts', () => {
        assert.ok(ran(onTty(iname, { flag: false }).out));
      });
      test('AIFO_SH_WRAP_DISABLE=1 on a marked tty: the shell starts', () => {
        assert.ok(ran(onTty(iname, { env: { AIFO_SH_WRAP_DISABLE: '1' } }).out));
      });
      test('reference section 8 item 36: a -c command on a marked tty still runs', () => {
        const r = onTty(iname, { args: "-c 'echo ran; exit 6'" });
        assert.match(r.out, /^ran\r?$/m);
        assert.equal(r.status, 6);
      });
    });
  }
});
