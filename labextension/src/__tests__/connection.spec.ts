import { ServerConnection } from '@jupyterlab/services';

import { ApoloConnection, loadConnectionState } from '../connection';
import { ConnectionState, IApoloContext } from '../tokens';
import { FakeServer } from './fakeserver';

const CONTEXT: IApoloContext = {
  user: 'alice',
  cluster: 'default',
  org: 'local',
  project: 'alice',
  platform: { url: 'http://127.0.0.1:8780/api/v1', embedded: true },
  job: null
};

describe('loadConnectionState (the handshake against a server)', () => {
  let server: FakeServer;
  let settings: ServerConnection.ISettings;

  beforeEach(async () => {
    server = await new FakeServer().start();
    settings = server.settings();
  });

  afterEach(() => server.stop());

  it('is connected after the version handshake and the context', async () => {
    server.json('apolo/version', 200, { version: '0.1.0', api: 1 });
    server.json('apolo/context', 200, CONTEXT);
    expect(await loadConnectionState(settings)).toEqual({
      kind: 'connected',
      context: CONTEXT,
      version: { version: '0.1.0', api: 1 }
    });
    expect(server.seen.map(s => s.url.split('?')[0])).toEqual([
      '/base/apolo/version',
      '/base/apolo/context'
    ]);
  });

  it('says the extension is missing when apolo/version is 404, without asking the context', async () => {
    expect(await loadConnectionState(settings)).toEqual({
      kind: 'missing-extension',
      server: null
    });
    expect(server.seen).toHaveLength(1);
  });

  it('says the extension is outdated when it speaks another API', async () => {
    server.json('apolo/version', 200, { version: '9.0.0', api: 2 });
    expect(await loadConnectionState(settings)).toEqual({
      kind: 'missing-extension',
      server: { version: '9.0.0', api: 2 }
    });
  });

  it("is unconfigured on 503, with the server's error and fix", async () => {
    server.json('apolo/version', 200, { version: '0.1.0', api: 1 });
    server.json('apolo/context', 503, {
      error: 'Run `apolo login`.',
      fix: 'Then refresh.'
    });
    expect(await loadConnectionState(settings)).toEqual({
      kind: 'unconfigured',
      error: 'Run `apolo login`.',
      fix: 'Then refresh.'
    });
  });

  it('reports other failures as errors', async () => {
    server.json('apolo/version', 200, { version: '0.1.0', api: 1 });
    server.json('apolo/context', 502, { error: 'platform unreachable' });
    expect(await loadConnectionState(settings)).toEqual({
      kind: 'error',
      error: 'platform unreachable'
    });
  });

  it('reports an unreachable Jupyter server without throwing', async () => {
    await server.stop();
    const state = await loadConnectionState(settings);
    expect(state).toMatchObject({ kind: 'error', unreachable: true });
  });
});

describe('ApoloConnection', () => {
  it('emits loading then the new state on refresh, and exposes the context', async () => {
    const server = await new FakeServer().start();
    try {
      server.json('apolo/version', 200, { version: '0.1.0', api: 1 });
      server.json('apolo/context', 200, CONTEXT);
      const connection = new ApoloConnection({
        serverSettings: server.settings()
      });
      const seen: string[] = [];
      connection.stateChanged.connect((_, state) => seen.push(state.kind));
      expect(connection.state.kind).toBe('loading');
      const state = await connection.refresh();
      expect(state.kind).toBe('connected');
      expect(seen).toEqual(['loading', 'connected']);
      expect(connection.context?.user).toBe('alice');
    } finally {
      await server.stop();
    }
  });

  it('keeps the newest answer when refreshes overlap and answer out of order', async () => {
    const answers: ((state: ConnectionState) => void)[] = [];
    const connection = new ApoloConnection({
      load: () => new Promise(resolve => answers.push(resolve))
    });
    const first = connection.refresh();
    const second = connection.refresh();
    answers[1]({ kind: 'unconfigured', error: 'newer' });
    answers[0]({ kind: 'error', error: 'older, late' });
    expect(await second).toEqual({ kind: 'unconfigured', error: 'newer' });
    expect(await first).toEqual({ kind: 'unconfigured', error: 'newer' });
    expect(connection.state).toEqual({ kind: 'unconfigured', error: 'newer' });
    expect(connection.context).toBeNull();
  });
});
