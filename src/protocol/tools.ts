// The routing table of protocol.md "Execution": which toolchain kind runs which tool. The agent
// side lays out one symlink per tool named here, and the proxy routes by the same table.

export const TOOLCHAIN_KINDS = ['rust', 'node', 'python', 'c-cpp', 'go'] as const;
export type ToolchainKind = (typeof TOOLCHAIN_KINDS)[number];

export function isToolchainKind(s: string): s is ToolchainKind {
  return (TOOLCHAIN_KINDS as readonly string[]).includes(s);
}

/** Tools that belong to exactly one kind. */
export const KIND_TOOLS: Readonly<Record<ToolchainKind, readonly string[]>> = {
  rust: ['cargo', 'rustc', 'rust-analyzer'],
  node: ['node', 'npm', 'npx', 'yarn', 'pnpm', 'deno', 'bun', 'tsc', 'ts-node'],
  python: ['python', 'python3', 'pip', 'pip3', 'uv', 'uvx'],
  'c-cpp': [],
  go: ['go', 'gofmt'],
};

/** Dev tools run by the first running sidecar that has them, in DEV_TOOL_PREFERENCE order. */
export const DEV_TOOLS: readonly string[] = [
  'make', 'cmake', 'ninja', 'pkg-config', 'gcc', 'g++', 'cc', 'c++', 'clang', 'clang++', 'hadolint',
];
export const DEV_TOOL_PREFERENCE: readonly ToolchainKind[] = ['c-cpp', 'rust', 'go', 'node', 'python'];

/** The tool the shim routes to /notify instead of /exec. */
export const NOTIFY_TOOL = 'say';

export type Route =
  | { readonly type: 'kind'; readonly kind: ToolchainKind }
  | { readonly type: 'dev'; readonly preference: readonly ToolchainKind[] };

/** Where a tool goes, or undefined when it is in no allowlist (403). Case-sensitive. */
export function routeTool(tool: string): Route | undefined {
  for (const kind of TOOLCHAIN_KINDS) {
    if (KIND_TOOLS[kind].includes(tool)) return { type: 'kind', kind };
  }
  if (DEV_TOOLS.includes(tool)) return { type: 'dev', preference: DEV_TOOL_PREFERENCE };
  return undefined;
}

/** Every routed tool, for the agent's /opt/aifo/bin symlinks (plus `say`). */
export function allShimTools(): string[] {
  const tools = new Set<string>();
  for (const kind of TOOLCHAIN_KINDS) for (const t of KIND_TOOLS[kind]) tools.add(t);
  for (const t of DEV_TOOLS) tools.add(t);
  tools.add(NOTIFY_TOOL);
  return [...tools].sort();
}
