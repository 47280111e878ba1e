/**
 * `ApoloDrive` against a real HTTP server answering as `apolo/drive/*` does: paging a big folder
 * (first page only, "load more" extends it), file models, saves through an upload session.
 */
import { ApoloDrive, entryModel, normalize, toBytes } from '../drive/drive';
import { DriveAPI, IDriveEntry } from '../drive/api';
import { FakeServer, ISeen } from './fakeserver';

function entry(name: string, extra: Partial<IDriveEntry> = {}): IDriveEntry {
  return {
    name,
    path: `alice/big/${name}`,
    uri: `storage://c/o/alice/big/${name}`,
    short: `storage:big/${name}`,
    type: 'file',
    size: 3,
    modified: 1700000000,
    permission: 'write',
    ...extra
  };
}

function query(seen: ISeen): URLSearchParams {
  return new URLSearchParams(seen.url.split('?')[1] ?? '');
}

describe('ApoloDrive', () => {
  let server: FakeServer;
  const TOTAL = 1000;

  beforeEach(async () => {
    server = await new FakeServer().start();
    server.routes.set('apolo/drive/list', (seen, res) => {
      const q = query(seen);
      const offset = Number(q.get('offset'));
      const limit = Number(q.get('limit'));
      const end = Math.min(offset + limit, TOTAL);
      const names = [];
      for (let i = offset; i < end; i++) {
        names.push(entry(`f${String(i).padStart(4, '0')}.txt`));
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          ...entry('big', { path: 'alice/big', type: 'directory' }),
          entries: names,
          offset,
          next_offset: end < TOTAL ? end : null
        })
      );
    });
  });

  afterEach(async () => {
    await server.stop();
  });

  it('lists the first page only, and more after loadMore', async () => {
    const drive = new ApoloDrive(server.settings());
    const states: number[] = [];
    drive.folderListed.connect((_, state) => states.push(state.shown));

    const first = await drive.get('/alice/big/');
    expect(first.type).toBe('directory');
    expect(first.content).toHaveLength(200);
    expect(drive.folder('alice/big')).toMatchObject({ shown: 200, more: true });
    const asked = server.seen.map(s => query(s).get('limit'));
    expect(asked).toEqual(['200']); // never the whole folder

    drive.loadMore('alice/big');
    const second = await drive.get('alice/big');
    expect(second.content).toHaveLength(400);
    expect(states).toEqual([200, 400]);
    expect(drive.entry('alice/big/f0399.txt')?.short).toBe(
      'storage:big/f0399.txt'
    );
    drive.dispose();
  });

  it('saves a notebook through an upload session as nbformat JSON', async () => {
    const bodies: string[] = [];
    server.json('apolo/drive/uploads', 201, {
      id: 'abc',
      path: 'alice/n.ipynb',
      uri: 'storage://c/o/alice/n.ipynb',
      offset: 0,
      size: null,
      done: false
    });
    server.routes.set('apolo/drive/uploads/abc', (seen, res) => {
      bodies.push(seen.body);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ id: 'abc', offset: seen.body.length, done: true })
      );
    });
    server.routes.set('apolo/drive/list', (seen, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          ...entry('n.ipynb', { path: 'alice/n.ipynb' }),
          entries: null,
          offset: 0,
          next_offset: null
        })
      );
    });
    const drive = new ApoloDrive(server.settings());
    const notebook = {
      cells: [],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5
    };
    const model = await drive.save('alice/n.ipynb', {
      type: 'notebook',
      format: 'json',
      content: notebook
    });
    expect(model.type).toBe('notebook');
    const start = server.seen.find(
      s => s.url.includes('drive/uploads?') || s.url.endsWith('drive/uploads')
    );
    expect(JSON.parse(start!.body)).toMatchObject({
      path: 'alice/n.ipynb',
      conflict: 'overwrite'
    });
    expect(JSON.parse(bodies[0])).toEqual(notebook);
    drive.dispose();
  });
});

describe('drive helpers', () => {
  it('normalizes paths', () => {
    expect(normalize('/a//b/')).toBe('a/b');
    expect(normalize('')).toBe('');
  });

  it('maps entries to contents models', () => {
    expect(entryModel(entry('x.ipynb')).type).toBe('notebook');
    expect(entryModel(entry('d', { type: 'directory' })).type).toBe(
      'directory'
    );
    expect(entryModel(entry('r', { permission: 'read' })).writable).toBe(false);
  });

  it('encodes base64 and text content', () => {
    expect(Array.from(toBytes({ format: 'base64', content: 'AAEC' }))).toEqual([
      0, 1, 2
    ]);
    expect(
      new TextDecoder().decode(toBytes({ format: 'text', content: 'é' }))
    ).toBe('é');
  });
});

describe('DriveAPI.sendFile', () => {
  let server: FakeServer;
  const session = {
    id: 'up1',
    path: 'alice/big.bin',
    uri: 'storage://c/o/alice/big.bin',
    offset: 0,
    size: 10,
    done: false
  };

  beforeEach(async () => {
    server = await new FakeServer().start();
  });

  afterEach(async () => {
    await server.stop();
  });

  /** A chunk endpoint that keeps what it got, answering after `delay` ms; `fail(offset, n)` picks answers. */
  function chunks(
    fail: (offset: number, attempt: number) => number = () => 200,
    delay = 30
  ) {
    const got = new Map<number, string>();
    const attempts = new Map<number, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    server.routes.set('apolo/drive/uploads/up1', async (seen, res) => {
      const offset = Number(query(seen).get('offset'));
      const attempt = (attempts.get(offset) ?? 0) + 1;
      attempts.set(offset, attempt);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise(resolve => setTimeout(resolve, delay));
      inFlight--;
      const status = fail(offset, attempt);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      if (status !== 200) {
        // A 409 about bytes still being written says where to resume; other refusals do not.
        const resume = status === 409 && offset === 3 ? { offset: 0 } : {};
        res.end(JSON.stringify({ error: `refused at ${offset}`, ...resume }));
        return;
      }
      got.set(offset, seen.body);
      const received = [...got.values()].join('').length;
      res.end(
        JSON.stringify({ ...session, offset: received, done: received === 10 })
      );
    });
    return { got, attempts, maxInFlight: () => maxInFlight };
  }

  it('sends chunks in parallel, retries a failed one and reports progress', async () => {
    const seen = chunks((offset, attempt) =>
      (offset === 3 || offset === 6) && attempt === 1
        ? offset === 3
          ? 409
          : 502
        : 200
    );
    const progress: number[] = [];
    const api = new DriveAPI(server.settings());
    const answer = await api.sendFile(
      session,
      new TextEncoder().encode('0123456789'),
      {
        chunkBytes: 3,
        progress: bytes => progress.push(bytes)
      }
    );
    expect(answer.done).toBe(true);
    expect([...seen.got.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, '012'],
      [3, '345'],
      [6, '678'],
      [9, '9']
    ]);
    expect(seen.attempts.get(3)).toBe(2);
    expect(seen.attempts.get(6)).toBe(2);
    expect(seen.maxInFlight()).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(10);
  });

  it('gives up at once when the server refuses, and stops the other chunks', async () => {
    const seen = chunks(offset => (offset === 0 ? 403 : 200), 50);
    const api = new DriveAPI(server.settings());
    await expect(
      api.sendFile(session, new TextEncoder().encode('0123456789'), {
        chunkBytes: 1
      })
    ).rejects.toThrow('refused at 0');
    expect(seen.attempts.get(0)).toBe(1);
    // The refusal stopped the workers: the 10 one-byte chunks were not all sent.
    await new Promise(resolve => setTimeout(resolve, 200));
    expect(seen.attempts.size).toBeLessThan(10);
  });

  it('gives up on a 409 that says nothing about resuming (the target appeared meanwhile)', async () => {
    const seen = chunks(offset => (offset === 0 ? 409 : 200));
    const api = new DriveAPI(server.settings());
    await expect(
      api.sendFile(session, new TextEncoder().encode('0123456789'), {
        chunkBytes: 5
      })
    ).rejects.toThrow('refused at 0');
    expect(seen.attempts.get(0)).toBe(1);
  });
});
