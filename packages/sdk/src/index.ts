export type {
  ApiToken,
  ConfigFileInput,
  CreatedApiToken,
  Endpoint,
  EngineInfo,
  ErrorBody,
  ErrorCode,
  ImageInfo,
  Page,
  PortInput,
  Progress,
  RuntimeInfo,
  SystemInfo,
  Tier,
  TokenScope,
  WorkspaceAccess,
  Workspace as WorkspaceData,
  WorkspaceEvent,
  WorkspaceSpecInput,
  WorkspaceStatus,
} from '@berth/protocol';
export { Berth } from './berth.js';
export {
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  type BerthOptions,
  type RequestOptions,
} from './client.js';
export {
  AuthenticationError,
  BerthError,
  ConflictError,
  ConnectionError,
  NotFoundError,
  PermissionError,
  ServerError,
  TimeoutError,
  ValidationError,
  WorkspaceFailedError,
  decodeError,
  errorFromResponse,
  type BerthErrorCode,
  type ClientErrorCode,
} from './errors.js';
export { Images } from './images.js';
export { Runtimes, System, type HealthStatus } from './system.js';
export { Tokens, type CreateTokenInput } from './tokens.js';
export { Workspace, type EventsOptions, type EventsPage, type WaitOptions } from './workspace.js';
export { Workspaces, type CreateOptions, type ListFilter, type ListOptions } from './workspaces.js';
