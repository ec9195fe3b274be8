// The `aifo` command (yargs): proxy, sidecars, run, shims, images, doctor.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AifoError } from '../protocol/errors.js';
import { runProxy } from './proxy.js';
import { shimsCheck, shimsWrite } from './shims.js';
// The Docker-side commands load dockerode; import them only when used, so `aifo proxy` on the
// local runner and `aifo shims` start fast.
const sidecarCli = () => import('./sidecar.js');

function fail(e: unknown): never {
  const msg = e instanceof AifoError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`aifo: ${msg}\n`);
  process.exit(e instanceof AifoError && e.code === 'AIFO_E_CONFIG' ? 2 : 1);
}

await yargs(hideBin(process.argv))
  .scriptName('aifo')
  // `aifo run … -- AGENT_CMD…`: everything after `--` is the agent's, untouched.
  .parserConfiguration({ 'populate--': true })
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
        .option('session', { type: 'string', describe: "docker runner: sidecars of this 'aifo sidecar up' session (default: the workspace's)" })
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
      }, async (given, verbose) => {
        const { createDockerRunner } = await import('../proxy/runners/docker.js');
        const sidecars = given.size > 0 ? given : await (await sidecarCli()).sessionSidecars(argv.session, argv.workspace);
        return createDockerRunner({ sidecars, verbose });
      }).catch(fail);
    },
  )
  .command('sidecar', 'start, stop and list toolchain sidecar containers', (y) =>
    y
      .command(
        'up',
        'start one sidecar per toolchain for a workspace (idempotent)',
        (u) =>
          u
            .option('toolchain', { type: 'string', array: true, demandOption: true, describe: 'rust node python c-cpp go (repeatable or comma-separated)' })
            .option('workspace', { type: 'string', describe: 'host directory, mounted at the same path (default: current directory)' })
            .option('image', { type: 'string', array: true, describe: 'KIND=IMAGE override (default aifo-toolchain-<kind>:local)' })
            .option('session', { type: 'string', describe: 'session id (default: derived from the workspace)' })
            .option('tag', { type: 'string', describe: 'tag of the default images (default local)' }),
        async (a) => (await sidecarCli()).cmdSidecarUp({ toolchain: a.toolchain, workspace: a.workspace, image: a.image, session: a.session, tag: a.tag }).catch(fail),
      )
      .command(
        'down',
        "remove a session's sidecars and session file",
        (d) =>
          d
            .option('session', { type: 'string' })
            .option('workspace', { type: 'string' })
            .option('all', { type: 'boolean', describe: 'every session' }),
        async (a) => (await sidecarCli()).cmdSidecarDown({ session: a.session, workspace: a.workspace, all: a.all }).catch(fail),
      )
      .command('ls', 'list sidecars', (l) => l.option('session', { type: 'string' }), async (a) => (await sidecarCli()).cmdSidecarLs({ session: a.session }).catch(fail))
      .demandCommand(1),
  )
  .command('images', 'build images from Debian packages (mmdebstrap) into the local engine', (y) =>
    y
      .command(
        'build',
        'build toolchain images (all kinds by default), the agent image, and agents on top',
        (b) =>
          b
            .option('toolchain', { type: 'string', array: true, describe: 'kinds to build (default: all, unless --agent is given)' })
            .option('agent', { type: 'boolean', describe: 'build the agent image' })
            .option('agents', { type: 'string', array: true, describe: 'real agents on top of the agent image (codex)' })
            .option('flavor', { type: 'string', default: 'slim', describe: 'agent flavor: slim (no curl) or full' })
            .option('tag', { type: 'string', describe: 'image tag (default local)' })
            .option('force', { type: 'boolean', describe: 'rebuild even if inputs are unchanged' }),
        async (a) => (await sidecarCli()).cmdImagesBuild({ toolchain: a.toolchain, agent: a.agent, agents: a.agents, flavor: a.flavor, tag: a.tag, force: a.force }).catch(fail),
      )
      .demandCommand(1),
  )
  .command(
    'run',
    'start sidecars, the proxy and an agent container; remove them all when the agent ends',
    (r) =>
      r
        .usage('aifo run [--toolchain KIND]… [--image AGENT_IMAGE] [--workspace DIR] [--unix-socket|--tcp] [--dry-run] [--keep] [-- AGENT_CMD…]')
        .option('toolchain', { type: 'string', array: true, describe: 'rust node python c-cpp go (repeatable or comma-separated)' })
        .option('image', { type: 'string', default: 'aifo-agent:local', describe: 'agent image' })
        .option('workspace', { type: 'string', describe: 'host directory, mounted at the same path (default: current directory)' })
        .option('unix-socket', { type: 'boolean', describe: 'proxy on a Unix socket mounted at /run/aifo (default on Linux)' })
        .option('tcp', { type: 'boolean', describe: 'proxy on 127.0.0.1; the agent uses the host network' })
        .option('dry-run', { type: 'boolean', describe: 'print the plan, start nothing' })
        .option('keep', { type: 'boolean', describe: 'leave the sidecars running afterwards' })
        .option('tag', { type: 'string', describe: 'tag of the toolchain images (default local)' })
        .option('verbose', { type: 'boolean', default: false })
        .conflicts('tcp', 'unix-socket'),
    async (a) => {
      const { parseKinds } = await sidecarCli();
      const { aifoRun } = await import('../launcher/run.js');
      const code = await aifoRun({
        kinds: parseKinds(a.toolchain),
        image: a.image,
        workspace: a.workspace ?? process.cwd(),
        // A Unix socket bind-mounted into a container works where the engine shares this kernel
        // (Linux); elsewhere (Docker Desktop's VM) only TCP reaches the host.
        transport: a.tcp === true ? 'tcp' : a['unix-socket'] === true || process.platform === 'linux' ? 'unix' : 'tcp',
        dryRun: a['dry-run'] === true,
        keep: a.keep === true,
        command: ((a['--'] as (string | number)[] | undefined) ?? []).map(String),
        shimDir: process.env['AIFO_SHIM_DIR']?.trim() || undefined,
        tag: a.tag,
        verbose: a.verbose,
      }).catch(fail);
      process.exit(code);
    },
  )
  .command(
    'doctor',
    'check the engine, images, socket permissions, agent-to-proxy reachability and a host override dir',
    (d) =>
      d
        .option('image', { type: 'string', default: 'aifo-agent:local', describe: 'agent image to probe with' })
        .option('tag', { type: 'string', default: 'local', describe: 'tag of the toolchain images' })
        .option('shim-dir', { type: 'string', describe: 'host override directory to check (default AIFO_SHIM_DIR)' }),
    async (a) => {
      const { doctor } = await import('../launcher/doctor.js');
      const ok = await doctor({ image: a.image, tag: a.tag, shimDir: a['shim-dir'] ?? (process.env['AIFO_SHIM_DIR']?.trim() || undefined) }, (f) =>
        process.stdout.write(f.ok ? `ok    ${f.what}\n` : `FAIL  ${f.what}\n      fix: ${f.fix ?? '-'}\n`),
      ).catch(fail);
      process.exit(ok ? 0 : 1);
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
            .option('node', { type: 'string', describe: "shim interpreter for its #! line, an absolute path (default /usr/bin/node)" })
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
