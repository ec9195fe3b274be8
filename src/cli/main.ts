// The `aifo` command (yargs): proxy, sidecars, run, shims, images, doctor.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AifoError } from '../protocol/errors.js';
import { runProxy } from './proxy.js';

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
  .fail((msg, err) => {
    if (err) fail(err);
    process.stderr.write(`aifo: ${msg}\n`);
    process.exit(2);
  })
  .help()
  .parseAsync();
