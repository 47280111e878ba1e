import { FakeServer, waitFor } from '../../__tests__/fakeserver';
import {
  compareJobs,
  errorText,
  formatAge,
  jobsQuery,
  JobsModel
} from '../model';
import { IJobSummary } from '../types';
import { job } from './jobs';

const FILTER = { status: 'active' as const, owner: '', text: '' };

describe('ordering and formatting', () => {
  it('puts running first, then pending, suspended, finished; newest first within each', () => {
    const jobs = [
      job('a', 'succeeded', '2026-01-01T10:00:00Z'),
      job('b', 'pending', '2026-01-01T09:00:00Z'),
      job('c', 'running', '2026-01-01T08:00:00Z'),
      job('d', 'running', '2026-01-01T11:00:00Z'),
      job('e', 'suspended', '2026-01-01T12:00:00Z'),
      job('f', 'failed', '2026-01-01T13:00:00Z')
    ];
    expect(jobs.sort(compareJobs).map(j => j.id)).toEqual([
      'd',
      'c',
      'b',
      'e',
      'f',
      'a'
    ]);
  });

  it('words the age in the unit a person reads', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(formatAge('2026-01-01T23:59:18Z', now)).toBe('42s');
    expect(formatAge('2026-01-01T23:55:00Z', now)).toBe('5m');
    expect(formatAge('2026-01-01T21:00:00Z', now)).toBe('3h');
    expect(formatAge('2025-12-20T00:00:00Z', now)).toBe('13d');
    expect(formatAge(null, now)).toBe('');
    expect(formatAge('not a date', now)).toBe('');
  });

  it('words a problem and its fix as one sentence pair', () => {
    expect(errorText({ message: 'No such user', fix: 'Check the name.' })).toBe(
      'No such user. Check the name.'
    );
    expect(errorText({ message: 'Denied.', fix: 'Ask bob.' })).toBe(
      'Denied. Ask bob.'
    );
    expect(errorText({ message: 'Gone' })).toBe('Gone');
  });

  it('asks the server for what the filter says (live jobs: the server default)', () => {
    expect(jobsQuery(FILTER)).toEqual({
      status: undefined,
      owner: undefined,
      q: undefined
    });
    expect(jobsQuery({ status: 'all', owner: ' ME ', text: 'exp:1' })).toEqual({
      status: 'all',
      owner: 'ME',
      q: 'exp:1'
    });
  });
});

describe('JobsModel', () => {
  let server: FakeServer;
  let model: JobsModel;
  beforeEach(async () => {
    server = await new FakeServer().start();
  });
  afterEach(async () => {
    model?.dispose();
    await server.stop();
  });

  /** Answer `apolo/jobs` with `jobs` as NDJSON, `chunk` lines per write. */
  function serveJobs(jobs: IJobSummary[], chunk = 200, pause = 0): void {
    server.routes.set('apolo/jobs', async (_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      for (let i = 0; i < jobs.length; i += chunk) {
        res.write(
          jobs
            .slice(i, i + chunk)
            .map(j => JSON.stringify(j) + '\n')
            .join('')
        );
        if (pause) {
          await new Promise(resolve => setTimeout(resolve, pause));
        }
      }
      res.end();
    });
  }

  it('streams the list, ordered running first, with the filter as query', async () => {
    serveJobs([
      job('old', 'pending', '2026-01-01T00:00:00Z'),
      job('new', 'running', '2026-01-01T01:00:00Z')
    ]);
    model = new JobsModel({
      serverSettings: server.settings(),
      filter: { status: 'running', owner: 'bob', text: 'x' }
    });
    await model.refresh();
    expect(model.jobs.map(j => j.id)).toEqual(['new', 'old']);
    expect(model.loading).toBe(false);
    expect(model.error).toBeNull();
    expect(model.find('old')?.status).toBe('pending');
    const url = server.seen[0].url;
    expect(url).toContain('status=running');
    expect(url).toContain('owner=bob');
    expect(url).toContain('q=x');
  });

  it('shows a first screenful before a long list has arrived', async () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      job(
        `job-${i}`,
        'running',
        `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`
      )
    );
    serveJobs(many, 200, 50);
    model = new JobsModel({
      serverSettings: server.settings(),
      filter: FILTER
    });
    const sizes: number[] = [];
    model.changed.connect(() => sizes.push(model.jobs.length));
    await model.refresh();
    expect(sizes[0]).toBeGreaterThanOrEqual(200);
    expect(sizes[0]).toBeLessThan(1000);
    expect(sizes[sizes.length - 1]).toBe(1000);
    // Not once per line: a handful of updates for 1000 jobs.
    expect(sizes.length).toBeLessThan(5);
  });

  it('keeps the last list and says what went wrong and the fix', async () => {
    serveJobs([job('a', 'running', '2026-01-01T00:00:00Z')]);
    model = new JobsModel({
      serverSettings: server.settings(),
      filter: FILTER
    });
    await model.refresh();
    server.json('apolo/jobs', 503, {
      error: 'The Apolo platform at http://x does not answer.',
      fix: 'Start it with `jupyter apolo platform serve`.'
    });
    await model.refresh();
    expect(model.jobs.map(j => j.id)).toEqual(['a']);
    expect(model.error).toEqual({
      message: 'The Apolo platform at http://x does not answer.',
      fix: 'Start it with `jupyter apolo platform serve`.',
      status: 503
    });
    // A platform failure the server could not give a fix for still gets one.
    server.json('apolo/jobs', 502, {
      error: 'Connection to the platform failed'
    });
    await model.refresh();
    expect(model.error?.fix).toContain('Check that the Apolo platform is up');
  });

  it('keeps only the newest answer when the filter changes during a load', async () => {
    server.routes.set('apolo/jobs', async (seen, res) => {
      const slow = seen.url.includes('status=pending');
      await new Promise(resolve => setTimeout(resolve, slow ? 200 : 0));
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.end(
        JSON.stringify(
          job(slow ? 'stale' : 'fresh', 'running', '2026-01-01T00:00:00Z')
        ) + '\n'
      );
    });
    model = new JobsModel({
      serverSettings: server.settings(),
      filter: { ...FILTER, status: 'pending' }
    });
    const stale = model.refresh();
    model.filter = { ...FILTER, status: 'running' };
    await stale;
    await waitFor(() => expect(model.loading).toBe(false));
    expect(model.jobs.map(j => j.id)).toEqual(['fresh']);
  });

  it('tells when a watched job finished, also when it left the live list', async () => {
    serveJobs([job('w', 'running', '2026-01-01T00:00:00Z')]);
    model = new JobsModel({
      serverSettings: server.settings(),
      filter: FILTER
    });
    await model.refresh();
    model.watch('w');
    const finished: string[] = [];
    model.jobFinished.connect((_, j) => finished.push(`${j.id}:${j.status}`));
    await model.refresh();
    expect(finished).toEqual([]);
    // The live list no longer has it: the model asks for the job itself.
    serveJobs([]);
    server.json(
      'apolo/jobs/w',
      200,
      job('w', 'failed', '2026-01-01T00:00:00Z', { exit_code: 3 })
    );
    await model.refresh();
    await waitFor(() => expect(finished).toEqual(['w:failed']));
    await model.refresh();
    expect(finished).toEqual(['w:failed']); // once
  });
});
