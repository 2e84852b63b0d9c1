/** Help text shared by several commands. */
export const WORKSPACE_ARG = 'workspace id (ws_…) or name';
export const NO_WAIT = 'return at once instead of waiting for the engine to finish';
