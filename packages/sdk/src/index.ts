export type {
  ApiToken,
  CommandInfo,
  CommandInput,
  ExecInput,
  ExecResult,
  FileInfo,
  FileRoot,
  LogLine,
  Preview,
  ReadinessProbe,
  TerminalInfo,
  UploadSummary,
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
  SecretInfo,
  SecretRekeyResult,
  SecretScope,
  SystemInfo,
  Tier,
  TokenScope,
  WorkspaceAccess,
  Workspace as WorkspaceData,
  WorkspaceEvent,
  WorkspaceSpecInput,
  WorkspaceStats,
  WorkspaceStatus,
} from '@berth/protocol';
export { Berth } from './berth.js';
export {
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  type BerthOptions,
  type RawBody,
  type RequestOptions,
  type WebSocketConstructor,
} from './client.js';
export {
  CommandHandle,
  Commands,
  DEFAULT_STREAM_OUTPUT_BYTES,
  type BackgroundOptions,
  type CommandOptions,
  type CommandResult,
  type ConnectOptions,
  type ForegroundOptions,
  type OutputCallbacks,
} from './commands.js';
export {
  Files,
  resolveFilePath,
  type DownloadArchiveOptions,
  type FileData,
  type FileList,
  type FileOptions,
  type ListOptions as FileListOptions,
  type MakeDirOptions,
  type ReadFormat,
  type ReadOptions,
  type RemoveOptions,
  type RenameOptions,
  type StatOptions,
  type UploadArchiveOptions,
  type WriteOptions,
} from './files.js';
export { Events, type EventStreamOptions, type ReconnectInfo } from './events.js';
export type { OutputStream, Signal } from './frames.js';
export { WorkspaceRef, type PreviewOptions, type PreviewUrl } from './inside.js';
export { type FollowLogsOptions, type LogsOptions } from './logs.js';
export { NdjsonParser } from './ndjson.js';
export { readSse, SseParser, type SseMessage } from './sse.js';
export { Pty, PtyHandle, type PtyConnectOptions, type PtyCreateOptions } from './pty.js';
export { Utf8StreamDecoder } from './bytes.js';
export {
  AuthenticationError,
  BerthError,
  CommandExitError,
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
export { Images, type BuildOptions as ImageBuildOptions } from './images.js';
export { Secrets, WorkspaceSecrets, type PutSecretResult, type SecretOptions } from './secrets.js';
export { Runtimes, System, type HealthStatus } from './system.js';
export { Tokens, type CreateTokenInput } from './tokens.js';
export { Workspace, type EventsOptions, type EventsPage, type WaitOptions } from './workspace.js';
export { Workspaces, type CreateOptions, type ListFilter, type ListOptions } from './workspaces.js';
