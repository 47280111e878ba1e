/**
 * The Notebooks panel's model against a real HTTP server answering as the server extension, and
 * its view rendered with React: plans grouped for review, deletions only when ticked, a stale
 * plan never applied, commit paths mapped from git to the Jupyter root.
 */
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';
import { createRoot } from 'react-dom/client';
import { act } from 'react';

import {
  changedRows,
  isRejectedPush,
  NotebooksModel
} from '../notebooks/model';
import {
  formatBytes,
  INotebooksActions,
  NotebooksView
} from '../notebooks/view';
import { Notebooks } from '../tokens';
import { FakeServer, ISeen } from './fakeserver';

// React 18: tell it these renders run inside act().
(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

const LOCAL = '/work/ws/awesome-project/notebooks';

function plan(
  direction: Notebooks.Direction,
  changes: Notebooks.IChange[]
): Notebooks.IPlan {
  return {
    id: `${direction}-1`,
    direction,
    local: LOCAL,
    local_path: 'awesome-project/notebooks',
    remote: 'storage://default/local/awesome-team/awesome_project/notebooks',
    unchanged: 3,
    changes,
    elsewhere: [],
    skipped: [{ path: '.git/', side: 'storage', reason: 'a control path' }]
  };
}

const PULL = plan('pull', [
  {
    path: 'a.ipynb',
    action: 'download',
    reason: 'changed on storage',
    size: 2048
  },
  {
    path: 'both.ipynb',
    action: 'conflict',
    reason: 'changed on storage and changed on disk',
    size: 10
  },
  {
    path: 'gone.ipynb',
    action: 'delete-local',
    reason: 'deleted on storage',
    size: 0
  }
]);
const PUSH = plan('push', [
  { path: 'mine.ipynb', action: 'upload', reason: 'changed on disk', size: 0 }
]);
const GIT: Notebooks.IGitStatus = {
  root: '/work/ws/awesome-project',
  files: [
    { path: 'notebooks/a.ipynb', index: ' ', worktree: 'M' },
    { path: 'notebooks/new.ipynb', index: '?', worktree: '?' },
    { path: 'notebooks/a.from-storage.ipynb', index: '?', worktree: '?' },
    { path: 'notebooks/a.merge-conflicts.ipynb', index: '?', worktree: '?' }
  ]
};

function ndjson(server: FakeServer, lines: unknown[]): void {
  server.routes.set('apolo/notebooks/apply', (_, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.end(lines.map(l => JSON.stringify(l)).join('\n') + '\n');
  });
}

const RESULT = {
  event: 'result',
  direction: 'pull',
  downloaded: ['a.ipynb'],
  uploaded: [],
  deleted: [],
  verified: [],
  merged: ['both.ipynb'],
  conflicts: [],
  proposed_deletions: ['gone.ipynb'],
  bytes: 2048,
  transferred: 1
};

describe('NotebooksModel', () => {
  let server: FakeServer;
  let model: NotebooksModel;

  beforeEach(async () => {
    server = await new FakeServer().start();
    server.routes.set('apolo/notebooks/plan', (seen: ISeen, res) => {
      const direction = new URL(seen.url, 'http://x').searchParams.get(
        'direction'
      );
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(direction === 'push' ? PUSH : PULL));
    });
    server.json('apolo/notebooks/status', 200, GIT);
    model = new NotebooksModel(server.settings('t'), 'awesome-project');
  });

  afterEach(() => {
    model.dispose();
    return server.stop();
  });

  it('plans both directions and reads git status of the notebooks folder', async () => {
    await model.refresh();
    expect(model.state.phase).toBe('ready');
    expect(model.state.pull).toEqual(PULL);
    expect(model.state.push).toEqual(PUSH);
    const status = server.seen.find(s => s.url.includes('notebooks/status'))!;
    expect(new URL(status.url, 'http://x').searchParams.get('path')).toBe(
      'awesome-project/notebooks'
    );
  });

  it('applies the reviewed plan with only the ticked deletions', async () => {
    ndjson(server, [
      {
        event: 'progress',
        done: 1,
        total: 1,
        path: 'a.ipynb',
        action: 'download',
        bytes: 2048
      },
      RESULT
    ]);
    await model.refresh();
    await model.apply('pull');
    let body = JSON.parse(server.seen.find(s => s.url.includes('apply'))!.body);
    expect(body).toEqual({
      path: 'awesome-project',
      direction: 'pull',
      delete: [],
      plan: 'pull-1'
    });

    model.toggle('gone.ipynb');
    model.toggle('not-a-deletion.ipynb');
    await model.apply('pull');
    body = JSON.parse(server.seen.filter(s => s.url.includes('apply'))[1].body);
    expect(body.delete).toEqual(['gone.ipynb']);
    expect(model.state.outcome).toEqual({ kind: 'sync', result: RESULT });
  });

  it('shows the new plan and does nothing when the plan is stale (409)', async () => {
    const fresh = plan('pull', [
      {
        path: 'a.ipynb',
        action: 'conflict',
        reason: 'changed on storage and changed on disk',
        size: 1
      }
    ]);
    server.json('apolo/notebooks/apply', 409, {
      error:
        'The notebooks changed since the plan you reviewed: nothing was done.',
      plan: fresh
    });
    await model.refresh();
    await model.apply('pull');
    expect(model.state.pull).toEqual(fresh);
    expect(model.state.moved).toEqual(['a.ipynb', 'both.ipynb', 'gone.ipynb']);
    expect(model.state.opProblem?.message).toMatch(/nothing was done/);
    expect(model.state.running).toBeNull();
  });

  it('reports an error event of the stream', async () => {
    ndjson(server, [
      { event: 'error', error: 'No space left on device: a.ipynb' }
    ]);
    await model.refresh();
    await model.apply('pull');
    expect(model.state.opProblem?.message).toBe(
      'No space left on device: a.ipynb'
    );
  });

  it('commits exactly the shown changes, as Jupyter-root paths', async () => {
    server.json('apolo/notebooks/commit', 200, {
      sha: 'abcdef1234567',
      summary: 'Team notebooks',
      files: ['notebooks/a.ipynb', 'notebooks/new.ipynb'],
      output: ''
    });
    await model.refresh();
    model.clearOutputs = true;
    expect(await model.commit('Team notebooks')).toBe(true);
    const body = JSON.parse(
      server.seen.find(s => s.url.includes('commit'))!.body
    );
    expect(body).toEqual({
      message: 'Team notebooks',
      paths: [
        'awesome-project/notebooks/a.ipynb',
        'awesome-project/notebooks/new.ipynb'
      ],
      clear_outputs: true
    });
  });

  it('keeps git output of a refused commit for the dialog', async () => {
    server.json('apolo/notebooks/commit', 409, {
      error: 'git commit failed (a hook may have rejected it):',
      output: 'pre-commit: outputs must be cleared\n'
    });
    await model.refresh();
    expect(await model.commit('x')).toBe(false);
    expect(model.state.opProblem?.output).toBe(
      'pre-commit: outputs must be cleared\n'
    );
  });

  it('pulls commits, then plans again and re-reads git status', async () => {
    const pull: Notebooks.IPullResult = {
      outcome: 'merged',
      upstream: 'origin/main',
      previous: 'a'.repeat(40),
      head: 'b'.repeat(40),
      files: ['notebooks/a.ipynb'],
      output: "Merge made by the 'ort' strategy.\n"
    };
    server.json('apolo/notebooks/pull', 200, pull);
    await model.refresh();
    const before = server.seen.length;
    expect(await model.pullGit()).toBe(true);
    expect(model.state.outcome).toEqual({ kind: 'git-pull', pull });
    const after = server.seen.slice(before).map(s => s.url.split('?')[0]);
    expect(after).toEqual([
      expect.stringContaining('apolo/notebooks/pull'),
      expect.stringContaining('apolo/notebooks/plan'),
      expect.stringContaining('apolo/notebooks/plan'),
      expect.stringContaining('apolo/notebooks/status')
    ]);
    expect(
      JSON.parse(server.seen.find(s => s.url.includes('notebooks/pull'))!.body)
    ).toEqual({ path: 'awesome-project' });
  });

  it('keeps a refused pull with its fix and git output', async () => {
    server.json('apolo/notebooks/pull', 409, {
      error:
        'pull from origin/main stopped: notebooks/a.ipynb changed in the same place on both sides',
      fix: 'Resolve it in a terminal',
      output: 'CONFLICT (content): Merge conflict in notebooks/a.ipynb\n'
    });
    await model.refresh();
    expect(await model.pullGit()).toBe(false);
    expect(model.state.opProblem).toEqual({
      message:
        'pull from origin/main stopped: notebooks/a.ipynb changed in the same place on both sides',
      fix: 'Resolve it in a terminal',
      output: 'CONFLICT (content): Merge conflict in notebooks/a.ipynb\n'
    });
    expect(isRejectedPush(model.state.opProblem)).toBe(false);
  });

  it('tells a push rejected for new remote commits from other failures', async () => {
    server.json('apolo/notebooks/push', 409, {
      error: 'git push to origin failed.',
      output:
        'To /w/origin.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone\n'
    });
    await model.refresh();
    expect(await model.pushGit()).toBe(false);
    expect(isRejectedPush(model.state.opProblem)).toBe(true);
    expect(
      isRejectedPush({
        message: 'x',
        output: ' ! [rejected]        main -> main (non-fast-forward)'
      })
    ).toBe(true);
    expect(
      isRejectedPush({
        message: 'git push to origin failed.',
        output: 'remote: pre-receive hook declined'
      })
    ).toBe(false);
  });

  it('offers the flow projects found when the folder is not one', async () => {
    server.json('apolo/notebooks/plan', 400, {
      error: '/w is not inside an apolo-flow project'
    });
    server.json('apolo/notebooks/projects', 200, {
      projects: [
        { path: 'a', notebooks: 'a/notebooks' },
        { path: 'b', notebooks: 'b/notebooks' }
      ]
    });
    await model.setPath('');
    expect(model.state.phase).toBe('error');
    expect(model.state.candidates).toEqual(['a', 'b']);
  });
});

describe('changedRows', () => {
  it('lists paths whose step differs', () => {
    expect(changedRows(PULL, PULL)).toEqual([]);
    expect(changedRows(PULL, PUSH)).toEqual([
      'a.ipynb',
      'both.ipynb',
      'gone.ipynb',
      'mine.ipynb'
    ]);
  });
});

describe('NotebooksView', () => {
  const actions: INotebooksActions = {
    refresh: jest.fn(),
    setPath: jest.fn(),
    apply: jest.fn(),
    cancel: jest.fn(),
    toggle: jest.fn(),
    openDiff: jest.fn(),
    openFile: jest.fn(),
    commit: jest.fn(async () => true),
    pushGit: jest.fn(),
    pullGit: jest.fn(),
    setClearOutputs: jest.fn()
  };

  function render(state: Partial<NotebooksModel['state']>): HTMLElement {
    const node = document.createElement('div');
    const model = new NotebooksModel(undefined as never);
    act(() =>
      createRoot(node).render(
        <NotebooksView
          state={{ ...model.state, ...state }}
          actions={actions}
          clearOutputs={false}
          trans={nullTranslator.load('x')}
        />
      )
    );
    return node;
  }

  it('groups the plan and counts what Pull and Push would do', () => {
    const node = render({ phase: 'ready', pull: PULL, push: PUSH, git: GIT });
    const groups = [...node.querySelectorAll('[data-group]')].map(g =>
      g.getAttribute('data-group')
    );
    expect(groups).toEqual([
      'pull',
      'push',
      'conflict',
      'delete-local',
      'skipped'
    ]);
    // the deletion is not counted until ticked
    expect(node.querySelector('[data-action="pull"]')!.textContent).toBe(
      'Pull (2)'
    );
    expect(node.querySelector('[data-action="push"]')!.textContent).toBe(
      'Push (1)'
    );
    expect(
      node.querySelector('[data-group="pull"] .jp-ApoloNotebooks-reason')!
        .textContent
    ).toBe('changed on storage · 2.0 KB');
    (
      node.querySelector(
        '[data-group="pull"] .jp-ApoloNotebooks-open'
      ) as HTMLElement
    ).click();
    expect(actions.openDiff).toHaveBeenCalledWith('a.ipynb', 'pull');
  });

  it('counts a ticked deletion', () => {
    const node = render({
      phase: 'ready',
      pull: PULL,
      push: PUSH,
      ticked: new Set(['gone.ipynb'])
    });
    expect(node.querySelector('[data-action="pull"]')!.textContent).toBe(
      'Pull (3)'
    );
    expect(
      (node.querySelector('.jp-ApoloNotebooks-tick') as HTMLInputElement)
        .checked
    ).toBe(true);
  });

  it('offers Pull commits and says what a pull did', () => {
    const pull: Notebooks.IPullResult = {
      outcome: 'merged',
      upstream: 'origin/main',
      previous: 'a'.repeat(40),
      head: '0123456789abcdef',
      files: ['notebooks/a.ipynb'],
      output: ''
    };
    const node = render({
      phase: 'ready',
      pull: PULL,
      push: PUSH,
      git: GIT,
      outcome: { kind: 'git-pull', pull }
    });
    (node.querySelector('[data-action="git-pull"]') as HTMLElement).click();
    expect(actions.pullGit).toHaveBeenCalled();
    expect(node.querySelector('[data-outcome="git-pull"]')!.textContent).toBe(
      'Merged origin/main into your branch: 0123456789 (1 file). Push commits to share the merge.'
    );
    const fastForward = render({
      phase: 'ready',
      pull: PULL,
      push: PUSH,
      git: GIT,
      outcome: { kind: 'git-pull', pull: { ...pull, outcome: 'up-to-date' } }
    });
    expect(
      fastForward.querySelector('[data-outcome="git-pull"]')!.textContent
    ).toBe('Already up to date with origin/main.');
  });

  it('says when everything is in sync', () => {
    const empty = { ...PULL, changes: [], skipped: [] };
    const node = render({
      phase: 'ready',
      pull: empty,
      push: { ...empty, direction: 'push' }
    });
    expect(node.querySelector('[data-empty]')!.textContent).toBe(
      'In sync: 3 files are the same on storage and here.'
    );
  });
});

test('formatBytes', () => {
  expect([12, 2048, 5 * 1024 * 1024].map(formatBytes)).toEqual([
    '12 B',
    '2.0 KB',
    '5.0 MB'
  ]);
});
