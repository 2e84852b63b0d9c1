export { runDaemon, DaemonAborted, type Daemon, type DaemonOptions } from './daemon.js';
export { loadConfig, ConfigError, type ResolvedConfig } from './config/load.js';
export { configurationMarkdown } from './config/docs.js';
export { BERTH_VERSION } from './version.js';
