// One error class with a stable code; one table maps code -> HTTP status -> exit status -> body.
// docs/errors.md documents the same table and test/protocol/errors.test.ts holds them together.
import { EXIT_PROTOCOL_ERROR, EXIT_TIMEOUT } from './wire.js';

export interface ErrorSpec {
  readonly status: number;
  readonly exitCode: number;
  /** Body prefix sent to the client (protocol.md status table); detail may follow `: `. */
  readonly body: string;
  /** The detail is the whole message (409's `tool '<t>' not available in running sidecars; …`). */
  readonly detailIsMessage?: boolean;
}

export const ERROR_TABLE = {
  AIFO_E_BAD_REQUEST: { status: 400, exitCode: EXIT_PROTOCOL_ERROR, body: 'bad request' },
  AIFO_E_UNAUTHORIZED: { status: 401, exitCode: EXIT_PROTOCOL_ERROR, body: 'unauthorized' },
  AIFO_E_FORBIDDEN: { status: 403, exitCode: EXIT_PROTOCOL_ERROR, body: 'forbidden' },
  AIFO_E_NOT_FOUND: { status: 404, exitCode: EXIT_PROTOCOL_ERROR, body: 'not found' },
  AIFO_E_METHOD: { status: 405, exitCode: EXIT_PROTOCOL_ERROR, body: 'method not allowed' },
  AIFO_E_NOTIFY_TIMEOUT: { status: 408, exitCode: EXIT_TIMEOUT, body: 'timeout' },
  AIFO_E_NO_SIDECAR: { status: 409, exitCode: EXIT_PROTOCOL_ERROR, body: 'tool not available in running sidecars', detailIsMessage: true },
  AIFO_E_TOO_LARGE: { status: 413, exitCode: EXIT_PROTOCOL_ERROR, body: 'request too large' },
  AIFO_E_PROTO: { status: 426, exitCode: EXIT_PROTOCOL_ERROR, body: 'Unsupported shim protocol; expected 1 or 2' },
  AIFO_E_HEADERS_TOO_LARGE: { status: 431, exitCode: EXIT_PROTOCOL_ERROR, body: 'request headers too large' },
  AIFO_E_SPAWN: { status: 500, exitCode: EXIT_PROTOCOL_ERROR, body: 'aifo-coder proxy error' },
  AIFO_E_BUSY: { status: 503, exitCode: EXIT_PROTOCOL_ERROR, body: 'busy' },
  AIFO_E_TIMEOUT: { status: 504, exitCode: EXIT_TIMEOUT, body: 'timeout' },
  // Client-side: never sent as HTTP, only turned into the shim's exit status.
  AIFO_E_CONFIG: { status: 0, exitCode: EXIT_PROTOCOL_ERROR, body: 'configuration error' },
  AIFO_E_CONNECT: { status: 0, exitCode: EXIT_PROTOCOL_ERROR, body: 'cannot reach proxy' },
  AIFO_E_RESPONSE: { status: 0, exitCode: EXIT_PROTOCOL_ERROR, body: 'bad response from proxy' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class AifoError extends Error {
  readonly code: ErrorCode;
  /** Text after the table's body prefix, e.g. the field at fault; may be empty. */
  readonly detail: string;

  constructor(code: ErrorCode, detail = '', options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERROR_TABLE[code];
    super(detail ? (spec.detailIsMessage ? detail : `${spec.body}: ${detail}`) : spec.body, options);
    this.name = 'AifoError';
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  get exitCode(): number {
    return ERROR_TABLE[this.code].exitCode;
  }

  /** The plain-response body: the message and a newline. */
  get body(): string {
    return `${this.message}\n`;
  }
}
