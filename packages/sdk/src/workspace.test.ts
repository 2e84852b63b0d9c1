import type { Workspace as WorkspaceData } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { Workspace, type WorkspaceOps } from './workspace.js';

const data = {
  id: 'ws_1',
  name: 'n',
  status: 'running',
  desiredState: 'running',
  progress: null,
  endpoints: [
    {
      name: 'agent',
      containerPort: 8080,
      protocol: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 4000,
      url: 'http://127.0.0.1:4000',
    },
    {
      name: 'web',
      containerPort: 3000,
      protocol: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 4001,
      url: 'http://127.0.0.1:4001',
    },
  ],
} as WorkspaceData;

function recordingOps(removeResult?: WorkspaceData) {
  const calls: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ops: WorkspaceOps = {
    fetch: () => Promise.resolve({ ...data, status: 'stopped' }),
    lifecycle: (action) => Promise.resolve({ ...data, status: action === 'stop' ? 'stopped' : 'running' }),
    remove: async (id, options) => {
      calls.push(`remove ${id} wait=${String(options.wait !== false)}`);
      await gate;
      return removeResult;
    },
    events: () => Promise.resolve({ items: [], nextCursor: null }),
    updateEgress: () => Promise.resolve(data),
    keepalive: () => Promise.resolve({ ...data }),
    stats: () => Promise.reject(new Error('not used')),
    streamEvents: () => {
      throw new Error('not used');
    },
    inside: () => {
      throw new Error('not used');
    },
  };
  return { ops, calls, release: () => release() };
}

describe('Workspace handle', () => {
  it('exposes the data read-only and finds endpoints by name or port', () => {
    const ws = new Workspace(recordingOps().ops, data);
    expect(ws.id).toBe('ws_1');
    expect(ws.endpoint()?.name).toBe('agent');
    expect(ws.endpoint('web')?.hostPort).toBe(4001);
    expect(ws.endpoint(3000)?.name).toBe('web');
    expect(ws.endpoint('nope')).toBeUndefined();
    expect(JSON.parse(JSON.stringify(ws))).toEqual(data);
  });

  it('updates its data from lifecycle calls', async () => {
    const ws = new Workspace(recordingOps().ops, data);
    expect((await ws.stop()).status).toBe('stopped');
    expect((await ws.start()).status).toBe('running');
    expect((await ws.refresh()).status).toBe('stopped');
  });

  it('serialises deletes: concurrent calls share one request, later calls and dispose do nothing', async () => {
    const { ops, calls, release } = recordingOps();
    const ws = new Workspace(ops, data);
    const first = ws.delete();
    const second = ws.delete();
    release();
    await Promise.all([first, second]);
    expect(calls).toEqual(['remove ws_1 wait=true']);
    expect(ws.status).toBe('deleted');
    await ws[Symbol.asyncDispose]();
    await ws.delete();
    expect(calls).toHaveLength(1);
  });

  it('keeps the deleting workspace of a delete that does not wait', async () => {
    const { ops, release } = recordingOps({ ...data, status: 'deleting' });
    const ws = new Workspace(ops, data);
    release();
    await ws.delete({ wait: false });
    expect(ws.status).toBe('deleting');
  });

  it('deletes itself at the end of an `await using` scope', async () => {
    const { ops, calls, release } = recordingOps();
    release();
    {
      await using ws = new Workspace(ops, data);
      expect(ws.status).toBe('running');
    }
    expect(calls).toEqual(['remove ws_1 wait=true']);
  });
});
