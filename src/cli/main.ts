// The `aifo` command (yargs): proxy, sidecars, run, shims, images, doctor.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AifoError } from '../protocol/errors.js';
import { runProxy } from './proxy.js';
import { shimsCheck, shimsWrite } from './shims.js';

function fail(e: unknown): never {
  const msg = e instanceof AifoError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`aifo: ${msg}\n`);
  process.exit(e instanceof AifoError && e.code === 'AIFO_E_CONFIG' ? 2 : 1);
}

await yargs(hideBin(process.argv))
  .scriptName('aifo')
  .strict()
  .demandCommand(1, 'name a command: aifo proxy | shims | sidecar | images | run | doctor')
  .command(
    'proxy',
    'run the toolexec proxy (prints AIFO_TOOLEEXEC_URL and AIFO_TOOLEEXEC_TOKEN on stdout when ready)',
    (y) =>
      y
        .option('listen', { type: 'string', default: 'tcp://127.0.0.1:0', describe: 'tcp://HOST:PORT or unix:///path.sock' })
        .option('token-file', { type: 'string', describe: 'read the token from this file; created 0600 with a new token if missing' })
        .option('runner', { choices: ['local', 'docker'] as const, describe: 'where tools run (default: docker if --sidecar given, else local)' })
        .option('workspace', { type: 'string', describe: 'root every request cwd must lie in (default /workspace; local runner: current directory)' })
        .option('max-secs', { type: 'number', describe: 'max runtime per exec (INT, TERM +5 s, KILL +10 s); default none' })
        .option('max-execs', { type: 'number', describe: 'concurrent execs before 503' })
        .option('sidecar', { type: 'string', array: true, describe: 'KIND=CONTAINER for the docker runner (repeatable)' })
        .option('socket-mode', { type: 'string', describe: 'unix socket mode, 600 (default) or 660' })
        .option('verbose', { type: 'boolean', default: false }),
    async (argv) => {
      await runProxy({
        listen: argv.listen,
        tokenFile: argv['token-file'],
        runner: argv.runner,
        workspace: argv.workspace,
        maxSecs: argv['max-secs'],
        maxExecs: argv['max-execs'],
        verbose: argv.verbose,
        sidecar: argv.sidecar,
        socketMode: argv['socket-mode'],
      }).catch(fail);
    },
  )
  .command('shims', 'lay out or check an /opt/aifo/bin directory', (y) =>
    y
      .command(
        'write <dir>',
        'write aifo-shim, every tool symlink and the sh/bash/dash wrappers into DIR',
        (w) =>
          w
            .positional('dir', { type: 'string', demandOption: true })
            .option('shim-bundle', { type: 'string', describe: 'aifo-shim bundle to install (default: the one beside this CLI)' })
            .option('node', { type: 'string', describe: "shim interpreter for its #! line (default '/usr/bin/env node')" })
            .option('sh', { type: 'string', describe: 'absolute path of the real sh (default /bin/sh)' })
            .option('bash', { type: 'string', describe: 'absolute path of the real bash (default /bin/bash)' })
            .option('dash', { type: 'string', describe: 'absolute path of the real dash (default /bin/dash)' })
            .option('mtime', { type: 'number', describe: 'mtime for every entry, seconds since epoch (default 0)' }),
        async (a) => {
          await shimsWrite(a.dir, { shimBundle: a['shim-bundle'], node: a.node, sh: a.sh, bash: a.bash, dash: a.dash, mtime: a.mtime }).catch(fail);
        },
      )
      .command(
        'check <dir>',
        'report what is missing or wrong in a shim directory (exit 1 if anything)',
        (c) => c.positional('dir', { type: 'string', demandOption: true }),
        async (a) => {
          const ok = await shimsCheck(a.dir).catch(fail);
          if (!ok) process.exit(1);
        },
      )
      .demandCommand(1),
  )
  .fail((msg, err) => {
    if (err) fail(err);
    process.stderr.write(`aifo: ${msg}\n`);
    process.exit(2);
  })
  .help()
  .parseAsync();
