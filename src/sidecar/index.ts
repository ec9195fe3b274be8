// The sidecar room's public surface, for the CLI (`aifo sidecar up|down|ls`) and the proxy.
export { sidecarCachePath, sidecarCreateOptions, sidecarDown, sidecarList, sidecarUp } from './lifecycle.js';
export type { SidecarDownOptions, SidecarInfo, SidecarListOptions, SidecarUpOptions, SidecarUpResult } from './lifecycle.js';
export { defaultSession, readSessionFile, sessionFilePath, sidecarMap, sidecarName, stateDir } from './session.js';
export type { SidecarSession } from './session.js';
