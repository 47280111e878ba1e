/**
 * `ApoloDrive` against a real HTTP server answering as `apolo/drive/*` does: paging a big folder
 * (first page only, "load more" extends it), file models, saves through an upload session.
 */
import { ApoloDrive, entryModel, normalize, toBytes } from '../drive/drive';
import { IDriveEntry } from '../drive/api';
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
