import { ServerConnection } from '@jupyterlab/services';
// jsdom has no ReadableStream global; Node's is the one fetch bodies are made of.
import { ReadableStream as NodeReadableStream } from 'stream/web';

import {
  ApoloResponseError,
  apoloUrl,
  parseErrorBody,
  readNDJSON,
  requestAPI,
  requestNDJSON
} from '../request';
import { FakeServer } from './fakeserver';

/** The ApoloResponseError `promise` rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<ApoloResponseError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason
  );
  expect(error).toBeInstanceOf(ApoloResponseError);
  return error as ApoloResponseError;
}

describe('parseErrorBody', () => {
  it('reads the extension error shape with its fix', () => {
    expect(
      parseErrorBody('{"error": "no credentials", "fix": "run `apolo login`"}')
    ).toEqual({
      error: 'no credentials',
      fix: 'run `apolo login`'
    });
  });

  it.each([
    ['<html>404</html>'],
    [''],
    ['null'],
    ['[1, 2]'],
    ['{"message": "not ours"}'],
    ['{"error": 42}']
  ])('returns null for %p', text => {
    expect(parseErrorBody(text)).toBeNull();
  });
});

describe('requestAPI', () => {
  let server: FakeServer;
  let settings: ServerConnection.ISettings;

  beforeEach(async () => {
    server = await new FakeServer().start();
    settings = server.settings('jupyter-token');
  });

  afterEach(() => server.stop());

  it('GETs apolo/<path> with the Jupyter token and returns the typed JSON', async () => {
    server.json('apolo/version', 200, { version: '1.2.3', api: 1 });
    const answer = await requestAPI<{ version: string; api: number }>(
      'version',
      {},
      settings
    );
    expect(answer).toEqual({ version: '1.2.3', api: 1 });
    expect(server.seen[0].method).toBe('GET');
    expect(server.seen[0].headers.authorization).toBe('token jupyter-token');
  });

  it.each(['POST', 'PUT', 'DELETE'] as const)(
    'sends %s with a JSON body and query parameters',
    async method => {
      server.routes.set('apolo/shares', (seen, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ got: JSON.parse(seen.body) }));
      });
      const answer = await requestAPI<{ got: unknown }>(
        'shares',
        {
          method,
          json: { uri: 'job:x', user: 'bob' },
          query: { dry: true, skip: undefined }
        },
        settings
      );
      expect(answer.got).toEqual({ uri: 'job:x', user: 'bob' });
      const seen = server.seen[0];
      expect(seen.method).toBe(method);
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.url).toMatch(/^\/base\/apolo\/shares\?dry=true(&|$)/);
    }
  );

  it('returns undefined for 204 No Content', async () => {
    server.routes.set('apolo/transfers/abc', (_, res) => {
      res.writeHead(204);
      res.end();
    });
    await expect(
      requestAPI('transfers/abc', { method: 'DELETE' }, settings)
    ).resolves.toBeUndefined();
  });

  it("throws ApoloResponseError with the server's message, fix and status", async () => {
    server.json('apolo/context', 503, {
      error: 'No Apolo credentials: run `apolo login`.',
      fix: 'After `apolo login`, press refresh.'
    });
    const error = await failure(requestAPI('context', {}, settings));
    expect(error).toBeInstanceOf(ApoloResponseError);
    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.status).toBe(503);
    expect(error.message).toBe('No Apolo credentials: run `apolo login`.');
    expect(error.fix).toBe('After `apolo login`, press refresh.');
    expect(error.body?.error).toBe(error.message);
  });

  it('keeps the extra fields of an error body (git output, errno)', async () => {
    server.json('apolo/notebooks/push', 409, {
      error: 'git push was rejected',
      output: ' ! [rejected] main -> main (fetch first)'
    });
    const error = await failure(
      requestAPI(
        'notebooks/push',
        { method: 'POST', json: { path: 'p' } },
        settings
      )
    );
    expect(error.status).toBe(409);
    expect(error.fix).toBeUndefined();
    expect(error.body?.output).toContain('[rejected]');
  });

  it('names the path and status when the answer is not the JSON error shape', async () => {
    const error = await failure(requestAPI('version', {}, settings));
    expect(error).toBeInstanceOf(ApoloResponseError);
    expect(error.status).toBe(404);
    expect(error.body).toBeNull();
    expect(error.message).toBe('apolo/version answered HTTP 404');
  });

  it('rejects a 200 answer that is not JSON', async () => {
    server.routes.set('apolo/context', (_, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>login page</html>');
    });
    const error = await failure(requestAPI('context', {}, settings));
    expect(error).toBeInstanceOf(ApoloResponseError);
    expect(error.message).toMatch(/apolo\/context .*not JSON/);
  });

  it('throws NetworkError when the Jupyter server is gone', async () => {
    await server.stop();
    const error = await requestAPI('version', {}, settings).catch(e => e);
    expect(error).toBeInstanceOf(ServerConnection.NetworkError);
  });

  it('builds URLs below apolo/ with encoded query values', () => {
    expect(apoloUrl(settings, 'jobs', { owner: 'a b&c', n: 3, x: null })).toBe(
      `${settings.baseUrl}apolo/jobs?owner=a+b%26c&n=3`
    );
  });
});

/** A ReadableStream that hands out `chunks` one by one. */
function streamOf(chunks: (string | Uint8Array)[]): {
  body: ReadableStream<Uint8Array>;
  text(): Promise<string>;
  cancelled: () => boolean;
} {
  let cancelled = false;
  const encoder = new TextEncoder();
  const queue = chunks.map(c =>
    typeof c === 'string' ? encoder.encode(c) : c
  );
  const body = new NodeReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next) {
        controller.enqueue(next);
      } else {
        controller.close();
      }
    },
    cancel() {
      cancelled = true;
    }
  }) as unknown as ReadableStream<Uint8Array>;
  return {
    body,
    text: () => Promise.reject(new Error('unused')),
    cancelled: () => cancelled
  };
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) {
    items.push(item);
  }
  return items;
}

describe('readNDJSON', () => {
  it('joins lines split across chunks, skips blank lines, keeps a last line without newline', async () => {
    const source = streamOf(['{"a":', '1}\n\n{"b"', ':2}\n{"c":3}']);
    expect(await collect(readNDJSON(source))).toEqual([
      { a: 1 },
      { b: 2 },
      { c: 3 }
    ]);
  });

  it('decodes a multi-byte character split between chunks', async () => {
    const bytes = new TextEncoder().encode('{"path":"données/é.ipynb"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "é"
    const source = streamOf([bytes.slice(0, cut), bytes.slice(cut)]);
    expect(await collect(readNDJSON(source))).toEqual([
      { path: 'données/é.ipynb' }
    ]);
  });

  it('names the line that is not JSON', async () => {
    const source = streamOf([
      '{"ok":1}\n',
      'Traceback (most recent call last)\n'
    ]);
    await expect(collect(readNDJSON(source))).rejects.toThrow(
      /NDJSON line 2 is not JSON: Traceback/
    );
  });

  it('cancels the body when the consumer stops early', async () => {
    const source = streamOf(['{"n":1}\n', '{"n":2}\n', '{"n":3}\n']);
    for await (const item of readNDJSON<{ n: number }>(source)) {
      expect(item.n).toBe(1);
      break;
    }
    expect(source.cancelled()).toBe(true);
  });

  it('reads the text when the body is not a stream', async () => {
    const source = { body: null, text: async () => '{"x":1}\n{"x":2}\n' };
    expect(await collect(readNDJSON(source))).toEqual([{ x: 1 }, { x: 2 }]);
  });
});

describe('requestNDJSON', () => {
  let server: FakeServer;
  afterEach(() => server.stop());

  it('yields each event as the server flushes it, before the answer ends', async () => {
    server = await new FakeServer().start();
    let finish: () => void = () => undefined;
    server.routes.set('apolo/notebooks/apply', (_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.write('{"event":"progress","done":1,"total":2}\n');
      finish = () => res.end('{"event":"result","downloaded":["a.ipynb"]}\n');
    });
    const events = requestNDJSON<{ event: string }>(
      'notebooks/apply',
      { method: 'POST', json: { path: '', direction: 'pull' } },
      server.settings()
    );
    const first = await events.next();
    expect(first.value).toMatchObject({ event: 'progress', done: 1 });
    finish(); // the result line exists only after the first event was read
    expect((await events.next()).value).toMatchObject({ event: 'result' });
    expect((await events.next()).done).toBe(true);
  });

  it('throws ApoloResponseError before the first line on an error status', async () => {
    server = await new FakeServer().start();
    server.json('apolo/notebooks/apply', 400, { error: 'not a flow project' });
    const events = requestNDJSON(
      'notebooks/apply',
      { method: 'POST' },
      server.settings()
    );
    await expect(events.next()).rejects.toThrow('not a flow project');
  });
});
