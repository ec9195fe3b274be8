// The images room's public surface, for the CLI (`aifo images build`) and the tests.
export { agentImageRef, buildImages, toolchainImageRef } from './build.js';
export type { BuildImagesOptions, BuiltImage, ShimLayout } from './build.js';
export { FLAVORS, loadAgentDef, loadToolchainDefs } from './definitions.js';
export type { AgentImageDef, Flavor, ToolchainImageDef } from './definitions.js';
