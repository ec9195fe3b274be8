// Reading a started `aifo proxy`'s ready lines (AIFO_TOOLEEXEC_URL=…, AIFO_TOOLEEXEC_TOKEN=…).
import type { ChildProcess } from 'node:child_process';
import split2 from 'split2';

export interface ProxyVars {
  readonly url: string;
  readonly token: string;
}

/** Resolves with the URL and token once both lines are out; rejects if the proxy exits first. */
export function proxyReady(child: ChildProcess): Promise<ProxyVars> {
  const vars: Record<string, string> = {};
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`aifo proxy exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.stdout!.pipe(split2()).on('data', (l: string) => {
      const i = l.indexOf('=');
      if (i > 0) vars[l.slice(0, i)] = l.slice(i + 1);
      const url = vars['AIFO_TOOLEEXEC_URL'];
      const token = vars['AIFO_TOOLEEXEC_TOKEN'];
      if (url && token) {
        child.off('exit', onExit);
        resolve({ url, token });
      }
    });
  });
}
