import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { FakeServer, waitFor } from '../../__tests__/fakeserver';
import { IJobsActions, JobDetails, JobsView, ROW_HEIGHT } from '../JobsView';
import { JobsModel } from '../model';
import { ShareForm } from '../ShareDialog';
import { IJobDetails } from '../types';
import { VirtualList } from '../VirtualList';
import { job } from './jobs';

const trans = nullTranslator.load('jupyter_apolo');

let mounted: Widget[] = [];
function mount(element: JSX.Element): HTMLElement {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  mounted.push(widget);
  return widget.node;
}
afterEach(() => {
  mounted.forEach(w => w.dispose());
  mounted = [];
});

/** Actions that record what was asked. */
function recorder(details?: Partial<IJobDetails>): {
  actions: IJobsActions;
  calls: string[];
} {
  const calls: string[] = [];
  const actions: IJobsActions = {
    details: async id => {
      calls.push(`details ${id}`);
      return {
        ...job(id, 'running', '2026-01-01T00:00:00Z'),
        history: [],
        ...details
      } as IJobDetails;
    },
    openLogs: id => calls.push(`logs ${id}`),
    openUI: id => calls.push(`ui ${id}`),
    share: uri => calls.push(`share ${uri}`),
    kill: async id => {
      calls.push(`kill ${id}`);
      return true;
    },
    revoke: async (uri, user) => {
      calls.push(`revoke ${uri} ${user}`);
      return true;
    },
    copy: text => calls.push(`copy ${text}`),
    sharedWithMe: async () => [],
    sharedByMe: async () => []
  };
  return { actions, calls };
}

describe('VirtualList', () => {
  it('draws only the rows in view for 10,000 rows, at their place', async () => {
    const node = mount(
      <VirtualList
        count={10000}
        rowHeight={ROW_HEIGHT}
        initialHeight={440}
        overscan={5}
        renderRow={(i, style) => (
          <div key={i} className="row" style={style}>
            {`row ${i}`}
          </div>
        )}
      />
    );
    await waitFor(() => expect(node.querySelectorAll('.row').length).toBe(15));
    const spacer = node.querySelector('[role="list"] > div') as HTMLElement;
    expect(spacer.style.height).toBe(`${10000 * ROW_HEIGHT}px`);
    const list = node.querySelector('[role="list"]') as HTMLElement;
    list.scrollTop = 5000 * ROW_HEIGHT;
    list.dispatchEvent(new Event('scroll'));
    await waitFor(() =>
      expect(node.querySelector('.row')?.textContent).toBe('row 4995')
    );
    const rows = node.querySelectorAll('.row');
    expect(rows.length).toBe(20);
    expect((rows[5] as HTMLElement).style.top).toBe(`${5000 * ROW_HEIGHT}px`);
  });
});

describe('JobsView', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await new FakeServer().start();
  });
  afterEach(() => server.stop());

  it('lists rows with status, reason, owner, preset; the pinned notebook job shares', async () => {
    server.routes.set('apolo/jobs', (_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.end(
        [
          job('job-p', 'pending', '2026-01-01T00:00:00Z', {
            reason: 'ContainerCreating',
            owner: 'bob',
            preset: 'gpu-large'
          }),
          job('job-r', 'running', '2026-01-01T00:00:00Z', { name: 'train' })
        ]
          .map(j => JSON.stringify(j) + '\n')
          .join('')
      );
    });
    const model = new JobsModel({
      serverSettings: server.settings(),
      filter: { status: 'active', owner: '', text: '' }
    });
    const { actions, calls } = recorder();
    const node = mount(
      <JobsView
        model={model}
        actions={actions}
        trans={trans}
        context={{
          user: 'alice',
          cluster: 'default',
          org: null,
          project: 'alice',
          platform: { url: 'http://x', embedded: true },
          job: { id: 'job-r', name: 'train' }
        }}
        showFinished={true}
        onRefresh={() => undefined}
      />
    );
    await model.refresh();
    await waitFor(() =>
      expect(node.querySelectorAll('.jp-Apolo-jobRow').length).toBe(2)
    );
    const rows = [...node.querySelectorAll<HTMLElement>('.jp-Apolo-jobRow')];
    expect(rows.map(r => r.dataset.jobId)).toEqual(['job-r', 'job-p']);
    expect(rows[0].querySelector('.jp-Apolo-jobName')!.textContent).toBe(
      'train'
    );
    expect(rows[1].querySelector('.jp-Apolo-jobName')!.textContent).toBe(
      'job-p'
    );
    expect(rows[1].querySelector('.jp-Apolo-jobReason')!.textContent).toBe(
      'ContainerCreating'
    );
    expect(rows[1].querySelector('.jp-Apolo-jobOwner')!.textContent).toBe(
      'bob'
    );
    expect(rows[1].querySelector('.jp-Apolo-jobPreset')!.textContent).toBe(
      'gpu-large'
    );
    expect(node.querySelector('.jp-Apolo-count')!.textContent).toBe('2 jobs');
    (node.querySelector('.jp-Apolo-shareThisJob') as HTMLElement).click();
    expect(calls).toEqual(['share job://default/local/alice/job-r']);
    model.dispose();
  });

  it('applies the owner and text filters on Enter, or on leaving a changed box', async () => {
    const model = new JobsModel({
      serverSettings: server.settings(),
      filter: { status: 'active', owner: '', text: '' }
    });
    const { actions } = recorder();
    const node = mount(
      <JobsView
        model={model}
        actions={actions}
        trans={trans}
        context={null}
        showFinished={false}
        onRefresh={() => undefined}
      />
    );
    await waitFor(() =>
      expect(node.querySelector('.jp-Apolo-ownerFilter')).not.toBeNull()
    );
    const owner = node.querySelector<HTMLInputElement>(
      '.jp-Apolo-ownerFilter'
    )!;
    const text = node.querySelector<HTMLInputElement>('.jp-Apolo-textFilter')!;
    owner.value = 'bob';
    owner.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );
    expect(model.filter.owner).toBe('bob');
    text.value = 'exp';
    text.dispatchEvent(new FocusEvent('focusout', { bubbles: true }));
    expect(model.filter).toMatchObject({ owner: 'bob', text: 'exp' });
    model.dispose();
  });
});

describe('JobDetails', () => {
  it('offers kill only with write access to a live job', async () => {
    const read = recorder({ access: 'read' });
    const node = mount(
      <JobDetails
        job={job('job-1', 'running', '2026-01-01T00:00:00Z', {
          access: 'read'
        })}
        actions={read.actions}
        trans={trans}
        onBack={() => undefined}
        onUpdate={() => undefined}
      />
    );
    await waitFor(() => expect(read.calls).toContain('details job-1'));
    expect(node.querySelector('.jp-Apolo-kill')).toBeNull();
    expect(node.querySelector('.jp-Apolo-share')).toBeNull();
    expect(node.querySelector('.jp-Apolo-openLogs')).not.toBeNull();

    const write = recorder({
      access: 'write',
      exit_code: null,
      http_url: 'http://127.0.0.1:9/',
      history: [
        { status: 'pending', reason: 'Creating', at: '2026-01-01T00:00:00Z' },
        { status: 'running', reason: null, at: '2026-01-01T00:00:05Z' }
      ]
    });
    const other = mount(
      <JobDetails
        job={job('job-2', 'running', '2026-01-01T00:00:00Z', {
          access: 'write'
        })}
        actions={write.actions}
        trans={trans}
        onBack={() => undefined}
        onUpdate={() => undefined}
      />
    );
    await waitFor(() =>
      expect(other.querySelectorAll('.jp-Apolo-historyStep').length).toBe(2)
    );
    (other.querySelector('.jp-Apolo-kill') as HTMLElement).click();
    (other.querySelector('.jp-Apolo-openUI') as HTMLElement).click();
    (other.querySelector('.jp-Apolo-copyId') as HTMLElement).click();
    await waitFor(() => expect(write.calls).toContain('kill job-2'));
    expect(write.calls).toContain('ui job-2');
    expect(write.calls).toContain('copy job-2');
    expect(other.querySelector('.jp-Apolo-share')).toBeNull(); // manage only
  });
});

describe('ShareForm', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await new FakeServer().start();
  });
  afterEach(() => server.stop());

  const resource = (grants: unknown[]) => ({
    uri: 'job://default/local/bob/job-1',
    short: 'job:job-1',
    kind: 'job',
    levels: {
      read: 'opens your notebook server and kernels',
      write: 'also changes your notebooks on storage',
      manage: 'also shares it with others'
    },
    grants
  });

  it('shows what each level allows, shares, and lists the new grant', async () => {
    let grants: unknown[] = [];
    server.routes.set('apolo/shares', (seen, res) => {
      if (seen.method === 'POST') {
        grants = [
          {
            user: 'alice',
            action: 'read',
            uri: 'job://default/local/bob/job-1',
            inherited: false,
            role: false
          }
        ];
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            uri: 'job://default/local/bob/job-1',
            short: 'job:job-1',
            user: 'alice',
            action: 'read',
            requested: 'read',
            higher: false,
            message: 'Shared job:job-1 with alice (read).'
          })
        );
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(resource(grants)));
    });
    const node = mount(
      <ShareForm
        uri="job:job-1"
        user="alice"
        serverSettings={server.settings()}
        trans={trans}
      />
    );
    await waitFor(() =>
      expect(
        node.querySelector('[data-level="read"] .jp-Apolo-levelText')!
          .textContent
      ).toBe('opens your notebook server and kernels')
    );
    expect(node.querySelector('.jp-Apolo-empty')).not.toBeNull();
    (node.querySelector('.jp-Apolo-shareButton') as HTMLElement).click();
    await waitFor(() =>
      expect(node.querySelectorAll('.jp-Apolo-grant').length).toBe(1)
    );
    const post = server.seen.find(s => s.method === 'POST')!;
    expect(JSON.parse(post.body)).toEqual({
      uri: 'job://default/local/bob/job-1',
      user: 'alice',
      action: 'read'
    });
    expect(node.querySelector('.jp-Apolo-shareDone')!.textContent).toBe(
      'Shared job:job-1 with alice (read).'
    );
    expect(node.querySelector('.jp-Apolo-grantFrom')!.textContent).toBe(
      'direct share'
    );
  });

  it('says an unknown user in one line with the fix, and revokes only after confirming', async () => {
    server.routes.set('apolo/shares', (seen, res) => {
      if (seen.method === 'POST') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            error: "User 'nobody' not found.",
            fix: 'Check the name with your teammate.'
          })
        );
        return;
      }
      if (seen.method === 'DELETE') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify(
          resource([
            {
              user: 'carol',
              action: 'write',
              uri: 'job://default/local/bob/job-1',
              inherited: false,
              role: false
            }
          ])
        )
      );
    });
    const node = mount(
      <ShareForm
        uri="job:job-1"
        user="nobody"
        serverSettings={server.settings()}
        trans={trans}
      />
    );
    await waitFor(() =>
      expect(node.querySelectorAll('.jp-Apolo-grant').length).toBe(1)
    );
    (node.querySelector('.jp-Apolo-shareButton') as HTMLElement).click();
    await waitFor(() =>
      expect(node.querySelector('.jp-Apolo-inlineError')!.textContent).toBe(
        "User 'nobody' not found. Check the name with your teammate."
      )
    );
    (node.querySelector('.jp-Apolo-revoke') as HTMLElement).click();
    await waitFor(() =>
      expect(node.querySelector('.jp-Apolo-confirmRevoke')).not.toBeNull()
    );
    expect(server.seen.some(s => s.method === 'DELETE')).toBe(false);
    (node.querySelector('.jp-Apolo-confirmRevoke') as HTMLElement).click();
    await waitFor(() =>
      expect(server.seen.some(s => s.method === 'DELETE')).toBe(true)
    );
    const del = server.seen.find(s => s.method === 'DELETE')!;
    expect(JSON.parse(del.body)).toEqual({
      uri: 'job://default/local/bob/job-1',
      user: 'carol'
    });
  });
});
