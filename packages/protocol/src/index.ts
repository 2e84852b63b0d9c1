export * from './errors.js';
export * from './statuses.js';
export type * from './types.js';

/** Labels Berth puts on everything it creates; `berth.` is reserved for them. */
export const LABEL_PREFIX = 'berth.';
export const API_VERSION_PREFIX = '/v1';
export const DEFAULT_PORT = 7420;
export * from './paths.js';
export * from './routes.js';
export * from './secrets.js';
