/**
 * The Notebooks panel's content: the 3-way plan grouped for review, Pull/Push with progress,
 * and the git section (changes, message, Commit, Push). Pure rendering of `INotebooksState`;
 * every action goes through the callbacks.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { Notice } from '../components/Notice';
import { Notebooks } from '../tokens';
import { INotebooksState, isConflictCopy, notebooksFolder } from './model';

/** What the view asks its owner to do. */
export interface INotebooksActions {
  refresh(): void;
  setPath(path: string): void;
  apply(direction: Notebooks.Direction): void;
  cancel(): void;
  toggle(path: string): void;
  openDiff(path: string, direction?: Notebooks.Direction): void;
  /** Open a file of the notebooks folder (path relative to it) in Lab. */
  openFile(path: string): void;
  commit(message: string): Promise<boolean>;
  pushGit(): Promise<boolean>;
  /** `git pull` from the upstream (fetch, then fast-forward or merge; never rebase or force). */
  pullGit(): Promise<boolean>;
  setClearOutputs(on: boolean): void;
}

export interface INotebooksViewProps {
  state: INotebooksState;
  actions: INotebooksActions;
  clearOutputs: boolean;
  trans: TranslationBundle;
}

/** Human size: 1.2 MB, 340 KB, 12 B. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The whole panel body for one state. The root carries `data-phase` for tests and styles. */
export function NotebooksView(props: INotebooksViewProps): JSX.Element {
  const { state, trans } = props;
  return (
    <div className="jp-ApoloNotebooks-body" data-phase={state.phase}>
      <ProjectBar {...props} />
      {state.phase === 'loading' && !state.pull && (
        <p className="jp-ApoloNotebooks-loading">
          {trans.__('Comparing storage, this folder and the last sync…')}
        </p>
      )}
      {state.phase === 'error' && state.problem && (
        <ProjectProblem {...props} />
      )}
      {state.pull && state.push && <Review {...props} />}
    </div>
  );
}

function ProjectBar(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans } = props;
  const [draft, setDraft] = React.useState(state.path);
  React.useEffect(() => setDraft(state.path), [state.path]);
  return (
    <form
      className="jp-ApoloNotebooks-project"
      onSubmit={event => {
        event.preventDefault();
        actions.setPath(draft);
      }}
    >
      <label className="jp-ApoloNotebooks-label" htmlFor="jp-apolo-nb-path">
        {trans.__('Flow project')}
      </label>
      <input
        id="jp-apolo-nb-path"
        className="jp-mod-styled jp-ApoloNotebooks-pathInput"
        value={draft}
        placeholder={trans.__('(the Jupyter root)')}
        title={trans.__(
          'A folder inside an apolo-flow project (holding .apolo/ or .neuro/), relative to the Jupyter root'
        )}
        onChange={event => setDraft(event.target.value)}
      />
    </form>
  );
}

function ProjectProblem(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans } = props;
  return (
    <div className="jp-ApoloNotebooks-problem">
      <Notice
        kind="warning"
        headline={trans.__('Cannot plan the notebooks sync')}
        text={state.problem!.message}
        details={[state.problem!.fix]}
      />
      {state.candidates.length > 0 && (
        <div className="jp-ApoloNotebooks-candidates">
          <p>{trans.__('Flow projects in this workspace:')}</p>
          {state.candidates.map(path => (
            <button
              key={path}
              className="jp-mod-styled jp-mod-accept jp-ApoloNotebooks-candidate"
              onClick={() => actions.setPath(path)}
            >
              {path || trans.__('(the Jupyter root)')}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** `text` allowed to wrap after each `/` (a long URI breaks between its parts, not inside a name). */
export function BreakAtSlashes(props: { text: string }): JSX.Element {
  const parts = props.text.split('/');
  return (
    <>
      {parts.map((part, i) => (
        <React.Fragment key={i}>
          {part}
          {i < parts.length - 1 && (
            <>
              /<wbr />
            </>
          )}
        </React.Fragment>
      ))}
    </>
  );
}

/** One group of plan rows. */
interface IGroup {
  id: string;
  title: string;
  hint: string;
  rows: Notebooks.IChange[];
  direction: Notebooks.Direction;
  tickable?: boolean;
}

function groups(
  pull: Notebooks.IPlan,
  push: Notebooks.IPlan,
  trans: TranslationBundle
): IGroup[] {
  const of = (plan: Notebooks.IPlan, ...actions: string[]) =>
    plan.changes.filter(c => actions.includes(c.action));
  return [
    {
      id: 'pull',
      title: trans.__('Changed on storage'),
      hint: trans.__('Pull brings these here'),
      rows: of(pull, 'download'),
      direction: 'pull'
    },
    {
      id: 'push',
      title: trans.__('Changed here'),
      hint: trans.__('Push sends these to storage'),
      rows: of(push, 'upload'),
      direction: 'push'
    },
    {
      id: 'conflict',
      title: trans.__('Changed on both sides'),
      hint: trans.__(
        'Pull merges notebooks cell by cell; where the same cell changed on both sides, both versions are kept'
      ),
      rows: of(pull, 'conflict'),
      direction: 'pull'
    },
    {
      id: 'delete-local',
      title: trans.__('Deleted on storage'),
      hint: trans.__('Tick to delete here too when you pull'),
      rows: of(pull, 'delete-local'),
      direction: 'pull',
      tickable: true
    },
    {
      id: 'delete-remote',
      title: trans.__('Deleted here'),
      hint: trans.__('Tick to delete on storage too when you push'),
      rows: of(push, 'delete-remote'),
      direction: 'push',
      tickable: true
    }
  ];
}

function Review(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans } = props;
  const pull = state.pull!;
  const push = state.push!;
  const all = groups(pull, push, trans);
  const shown = all.filter(g => g.rows.length);
  const skipped = dedupeSkipped([
    ...(pull.skipped ?? []),
    ...(push.skipped ?? [])
  ]);
  const running = state.running;
  const pullCount =
    pull.changes.filter(
      c => !c.action.startsWith('delete') && c.action !== 'forget'
    ).length +
    pull.changes.filter(
      c => c.action === 'delete-local' && state.ticked.has(c.path)
    ).length;
  const pushCount =
    push.changes.filter(c => c.action === 'upload').length +
    push.changes.filter(
      c => c.action === 'delete-remote' && state.ticked.has(c.path)
    ).length;
  return (
    <>
      <div className="jp-ApoloNotebooks-where" title={pull.remote}>
        <span className="jp-ApoloNotebooks-label">{trans.__('Storage')}</span>
        <span className="jp-ApoloNotebooks-uri">
          <BreakAtSlashes text={pull.remote} />
        </span>
        <span className="jp-ApoloNotebooks-label">{trans.__('Folder')}</span>
        <span className="jp-ApoloNotebooks-uri">
          <BreakAtSlashes text={notebooksFolder(pull, state.path) + '/'} />
        </span>
      </div>
      <section
        className="jp-ApoloNotebooks-plan"
        aria-label={trans.__('Sync plan')}
      >
        {shown.length === 0 && (
          <p className="jp-ApoloNotebooks-inSync" data-empty="true">
            {trans._n(
              'In sync: %1 file is the same on storage and here.',
              'In sync: %1 files are the same on storage and here.',
              pull.unchanged
            )}
          </p>
        )}
        {shown.map(group => (
          <Group key={group.id} group={group} {...props} />
        ))}
        {skipped.length > 0 && (
          <details className="jp-ApoloNotebooks-group" data-group="skipped">
            <summary className="jp-ApoloNotebooks-groupTitle">
              {trans.__('Skipped')}{' '}
              <span className="jp-ApoloNotebooks-count">{skipped.length}</span>
            </summary>
            <ul className="jp-ApoloNotebooks-rows">
              {skipped.map(s => (
                <li
                  key={`${s.side}:${s.path}`}
                  className="jp-ApoloNotebooks-row"
                >
                  <span className="jp-ApoloNotebooks-path">{s.path}</span>
                  <span className="jp-ApoloNotebooks-reason">
                    {s.side === 'storage'
                      ? trans.__('on storage: %1', s.reason)
                      : trans.__('here: %1', s.reason)}
                  </span>
                </li>
              ))}
            </ul>
          </details>
        )}
        {shown.length > 0 && (
          <p className="jp-ApoloNotebooks-unchanged">
            {trans._n(
              '%1 other file unchanged',
              '%1 other files unchanged',
              pull.unchanged
            )}
          </p>
        )}
      </section>
      <div className="jp-ApoloNotebooks-actions">
        <button
          className="jp-mod-styled jp-mod-accept"
          data-action="pull"
          disabled={!!running || pullCount === 0}
          onClick={() => actions.apply('pull')}
          title={trans.__(
            'Download the changes on storage (and the ticked deletions)'
          )}
        >
          {trans.__('Pull')} {pullCount > 0 ? `(${pullCount})` : ''}
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-action="push"
          disabled={!!running || pushCount === 0}
          onClick={() => actions.apply('push')}
          title={trans.__(
            'Upload the changes made here (and the ticked deletions)'
          )}
        >
          {trans.__('Push')} {pushCount > 0 ? `(${pushCount})` : ''}
        </button>
        <button
          className="jp-mod-styled jp-mod-reject"
          data-action="refresh"
          disabled={!!running}
          onClick={() => actions.refresh()}
        >
          {trans.__('Re-plan')}
        </button>
      </div>
      {running && (running.kind === 'pull' || running.kind === 'push') && (
        <Progress {...props} />
      )}
      <OperationNotes {...props} />
      <GitSection {...props} />
    </>
  );
}

function Group(props: INotebooksViewProps & { group: IGroup }): JSX.Element {
  const { group, state, actions, trans } = props;
  const moved = new Set(state.moved);
  return (
    <details className="jp-ApoloNotebooks-group" data-group={group.id} open>
      <summary className="jp-ApoloNotebooks-groupTitle" title={group.hint}>
        {group.title}{' '}
        <span className="jp-ApoloNotebooks-count">{group.rows.length}</span>
      </summary>
      <p className="jp-ApoloNotebooks-hint">{group.hint}</p>
      <ul className="jp-ApoloNotebooks-rows">
        {group.rows.map(change => (
          <li
            key={change.path}
            className={`jp-ApoloNotebooks-row${moved.has(change.path) ? ' jp-mod-moved' : ''}`}
            data-path={change.path}
          >
            {group.tickable && (
              <input
                type="checkbox"
                className="jp-ApoloNotebooks-tick"
                checked={state.ticked.has(change.path)}
                onChange={() => actions.toggle(change.path)}
                aria-label={trans.__('Delete %1', change.path)}
              />
            )}
            <button
              className="jp-ApoloNotebooks-open"
              title={trans.__('Show the changes of %1', change.path)}
              onClick={() => actions.openDiff(change.path, group.direction)}
            >
              <span className="jp-ApoloNotebooks-path">{change.path}</span>
              <span className="jp-ApoloNotebooks-reason">
                {change.reason}
                {change.size ? ` · ${formatBytes(change.size)}` : ''}
                {moved.has(change.path)
                  ? ` · ${trans.__('changed since you looked')}`
                  : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </details>
  );
}

function Progress(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans } = props;
  const running = state.running!;
  const fraction = running.total ? running.done / running.total : 0;
  return (
    <div className="jp-ApoloNotebooks-progress" role="status">
      <div className="jp-ApoloNotebooks-progressLine">
        <span>
          {running.total
            ? trans.__(
                '%1 of %2 files · %3',
                String(running.done),
                String(running.total),
                formatBytes(running.bytes)
              )
            : running.kind === 'pull'
              ? trans.__('Pulling…')
              : trans.__('Pushing…')}
        </span>
        <button
          className="jp-mod-styled jp-mod-warn"
          data-action="cancel"
          onClick={() => actions.cancel()}
        >
          {trans.__('Cancel')}
        </button>
      </div>
      <progress max={1} value={fraction} />
      {running.path && (
        <div className="jp-ApoloNotebooks-current" title={running.path}>
          {running.path}
        </div>
      )}
    </div>
  );
}

function OperationNotes(props: INotebooksViewProps): JSX.Element | null {
  const { state, trans } = props;
  const outcome = state.outcome;
  return (
    <>
      {state.opProblem && (
        <div className="jp-ApoloNotebooks-opProblem" role="alert">
          <p>{state.opProblem.message}</p>
          {state.opProblem.fix && <p>{state.opProblem.fix}</p>}
          {state.opProblem.output && (
            // Folded: the failure dialog showed it in full; the panel keeps it at hand.
            <details>
              <summary className="jp-ApoloNotebooks-reason">
                {trans.__('git output')}
              </summary>
              <pre className="jp-ApoloNotebooks-output">
                {state.opProblem.output}
              </pre>
            </details>
          )}
        </div>
      )}
      {outcome?.kind === 'sync' && <SyncSummary {...props} />}
      {outcome?.kind === 'commit' && (
        <p className="jp-ApoloNotebooks-outcome" role="status">
          {trans._n(
            'Committed %2 (%1 file): %3',
            'Committed %2 (%1 files): %3',
            outcome.commit.files.length,
            outcome.commit.sha.slice(0, 10),
            outcome.commit.summary
          )}
        </p>
      )}
      {outcome?.kind === 'git-pull' && (
        <GitPullSummary pull={outcome.pull} trans={trans} />
      )}
      {outcome?.kind === 'git-push' && (
        <div className="jp-ApoloNotebooks-outcome" role="status">
          <p>{trans.__('Pushed your commits.')}</p>
          {outcome.output.trim() && (
            <details>
              <summary className="jp-ApoloNotebooks-reason">
                {trans.__('git output')}
              </summary>
              <pre className="jp-ApoloNotebooks-output">
                {outcome.output.trim()}
              </pre>
            </details>
          )}
        </div>
      )}
    </>
  );
}

/** What a `git pull` did: nothing new, a fast-forward or a merge commit (then: push it). */
export function GitPullSummary(props: {
  pull: Notebooks.IPullResult;
  trans: TranslationBundle;
}): JSX.Element {
  const { pull, trans } = props;
  const head = pull.head.slice(0, 10);
  const files = trans._n('%1 file', '%1 files', pull.files.length);
  const text =
    pull.outcome === 'up-to-date'
      ? trans.__('Already up to date with %1.', pull.upstream)
      : pull.outcome === 'fast-forward'
        ? trans.__(
            'Pulled %1: fast-forward to %2 (%3).',
            pull.upstream,
            head,
            files
          )
        : trans.__(
            'Merged %1 into your branch: %2 (%3). Push commits to share the merge.',
            pull.upstream,
            head,
            files
          );
  return (
    <div
      className="jp-ApoloNotebooks-outcome"
      role="status"
      data-outcome="git-pull"
    >
      <p>{text}</p>
      {pull.output.trim() && (
        <details>
          <summary className="jp-ApoloNotebooks-reason">
            {trans.__('git output')}
          </summary>
          <pre className="jp-ApoloNotebooks-output">{pull.output.trim()}</pre>
        </details>
      )}
    </div>
  );
}

function SyncSummary(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans } = props;
  const outcome = state.outcome as Extract<
    NonNullable<INotebooksState['outcome']>,
    { kind: 'sync' }
  >;
  const r = outcome.result;
  const parts: string[] = [];
  if (r.downloaded.length) {
    parts.push(trans.__('%1 downloaded', String(r.downloaded.length)));
  }
  if (r.uploaded.length) {
    parts.push(trans.__('%1 uploaded', String(r.uploaded.length)));
  }
  if (r.merged?.length) {
    parts.push(trans.__('%1 merged cell by cell', String(r.merged.length)));
  }
  if (r.deleted.length) {
    parts.push(trans.__('%1 deleted', String(r.deleted.length)));
  }
  if (r.verified.length) {
    parts.push(trans.__('%1 already identical', String(r.verified.length)));
  }
  if (r.conflicts.length) {
    parts.push(trans.__('%1 conflict(s)', String(r.conflicts.length)));
  }
  return (
    <div
      className="jp-ApoloNotebooks-outcome"
      role="status"
      data-outcome="sync"
    >
      <p>
        {r.direction === 'pull' ? trans.__('Pulled: ') : trans.__('Pushed: ')}
        {parts.length ? parts.join(', ') : trans.__('nothing to do')}
        {r.bytes ? ` (${formatBytes(r.bytes)})` : ''}.
      </p>
      {r.conflicts.length > 0 && (
        <ul className="jp-ApoloNotebooks-conflicts">
          {r.conflicts.map(c => (
            <li key={c.path} data-path={c.path}>
              <button
                className="jp-ApoloNotebooks-open"
                onClick={() => actions.openDiff(c.path, 'pull')}
                title={trans.__(
                  'Compare your version with the storage version'
                )}
              >
                <span className="jp-ApoloNotebooks-path">{c.path}</span>
                <span className="jp-ApoloNotebooks-reason">{c.reason}</span>
              </button>
              <div className="jp-ApoloNotebooks-copies">
                {c.kept_as && (
                  <button
                    className="jp-ApoloNotebooks-link"
                    data-open="storage"
                    title={c.kept_as}
                    onClick={() => actions.openFile(c.kept_as!)}
                  >
                    {trans.__('Open the storage version')}
                  </button>
                )}
                {c.merge_as && (
                  <button
                    className="jp-ApoloNotebooks-link"
                    data-open="merge"
                    title={c.merge_as}
                    onClick={() => actions.openFile(c.merge_as!)}
                  >
                    {trans.__('Open the merge with conflict markers')}
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function GitSection(props: INotebooksViewProps): JSX.Element {
  const { state, actions, trans, clearOutputs } = props;
  const [message, setMessage] = React.useState('');
  const git = state.git;
  const running = state.running;
  const folder = notebooksFolder(state.pull, state.path);
  return (
    <section className="jp-ApoloNotebooks-git" aria-label={trans.__('Git')}>
      <h3 className="jp-ApoloNotebooks-sectionTitle">{trans.__('Git')}</h3>
      {!git && (
        <p className="jp-ApoloNotebooks-hint">
          {state.gitProblem ?? trans.__('No git repository.')}
        </p>
      )}
      {git && git.files.length === 0 && (
        <p className="jp-ApoloNotebooks-hint" data-git="clean">
          {trans.__('Nothing to commit in %1/', folder)}
        </p>
      )}
      {git && git.files.length > 0 && (
        <ul className="jp-ApoloNotebooks-rows" data-git="changes">
          {git.files.map(f => (
            <li
              key={f.path}
              className={`jp-ApoloNotebooks-row${isConflictCopy(f.path) ? ' jp-mod-copy' : ''}`}
              data-path={f.path}
            >
              <span
                className="jp-ApoloNotebooks-code"
                title={gitCodeTitle(f.index, f.worktree, trans)}
              >
                {gitCode(f.index, f.worktree)}
              </span>
              <span className="jp-ApoloNotebooks-path">
                {f.path}
                {isConflictCopy(f.path) && (
                  <span className="jp-ApoloNotebooks-reason">
                    {' · '}
                    {trans.__(
                      'conflict copy: resolve, then delete it (not committed)'
                    )}
                  </span>
                )}
              </span>
            </li>
          ))}
        </ul>
      )}
      {git && (
        <form
          className="jp-ApoloNotebooks-commit"
          onSubmit={async event => {
            event.preventDefault();
            if (await actions.commit(message)) {
              setMessage('');
            }
          }}
        >
          <textarea
            className="jp-mod-styled jp-ApoloNotebooks-message"
            placeholder={trans.__('Commit message (what changed and why)')}
            aria-label={trans.__('Commit message')}
            value={message}
            rows={2}
            onChange={event => setMessage(event.target.value)}
          />
          <label className="jp-ApoloNotebooks-check">
            <input
              type="checkbox"
              checked={clearOutputs}
              onChange={event => actions.setClearOutputs(event.target.checked)}
            />
            {trans.__('Clear outputs before commit (your files keep them)')}
          </label>
          <div className="jp-ApoloNotebooks-actions">
            <button
              type="submit"
              className="jp-mod-styled jp-mod-accept"
              data-action="commit"
              disabled={
                !!running ||
                !git.files.some(f => !isConflictCopy(f.path)) ||
                !message.trim()
              }
            >
              {trans.__('Commit')}
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              data-action="git-push"
              disabled={!!running}
              onClick={() => actions.pushGit()}
              title={trans.__('git push to the upstream remote (never forced)')}
            >
              {trans.__('Push commits')}
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              data-action="git-pull"
              disabled={!!running}
              onClick={() => actions.pullGit()}
              title={trans.__(
                'git pull from the upstream remote (e.g. origin): fetch, then fast-forward or merge (notebooks cell by cell); never rebases or forces'
              )}
            >
              {trans.__('Pull commits')}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** Two-letter `git status --short` code, without padding. */
export function gitCode(index: string, worktree: string): string {
  if (index === '?') {
    return 'U';
  }
  return (index.trim() || worktree.trim() || '?').slice(0, 1);
}

function gitCodeTitle(
  index: string,
  worktree: string,
  trans: TranslationBundle
): string {
  const code = gitCode(index, worktree);
  const words: Record<string, string> = {
    U: trans.__('new, untracked'),
    M: trans.__('modified'),
    A: trans.__('added'),
    D: trans.__('deleted'),
    R: trans.__('renamed')
  };
  return words[code] ?? code;
}

function dedupeSkipped(items: Notebooks.ISkipped[]): Notebooks.ISkipped[] {
  const seen = new Set<string>();
  return items.filter(s => {
    const key = `${s.side}\u0000${s.path}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}
