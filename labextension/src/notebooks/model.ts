/**
 * The Notebooks panel's state and its calls to `apolo/notebooks/*`: the pull and push plans of
 * the flow project's notebooks folder, git status there, and the running operation.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { ApoloResponseError, requestAPI, requestNDJSON } from '../request';
import { Notebooks } from '../tokens';

/** A failure as shown: the server's message, what to do, git's own output when there is one. */
export interface IProblem {
  message: string;
  fix?: string;
  output?: string;
}

/** The operation in flight (pull/push with progress, or a git step). */
export interface IRunning {
  kind: 'pull' | 'push' | 'commit' | 'git-push' | 'git-pull';
  done: number;
  total: number;
  path: string;
  bytes: number;
}

/** What the last operation did, for the summary line. */
export type Outcome =
  | {
      kind: 'sync';
      result: Extract<Notebooks.ApplyEvent, { event: 'result' }>;
      cancelled?: boolean;
    }
  | { kind: 'commit'; commit: Notebooks.ICommitResult }
  | { kind: 'git-push'; output: string }
  | { kind: 'git-pull'; pull: Notebooks.IPullResult };

/** Everything the panel shows. */
export interface INotebooksState {
  /** The project folder, relative to the Jupyter root ('' = the root). */
  path: string;
  phase: 'idle' | 'loading' | 'ready' | 'error';
  problem: IProblem | null;
  pull: Notebooks.IPlan | null;
  push: Notebooks.IPlan | null;
  git: Notebooks.IGitStatus | null;
  /** Why git status is not shown (not a repository, git missing). */
  gitProblem: string | null;
  running: IRunning | null;
  outcome: Outcome | null;
  /** A failed operation (the plans stay shown). */
  opProblem: IProblem | null;
  /** Paths whose row changed because storage or the folder moved since the shown plan. */
  moved: string[];
  /** Deletions the user ticked (paths relative to the notebooks folder). */
  ticked: ReadonlySet<string>;
  /** Flow projects found below the root (when `path` is not one). */
  candidates: string[];
}

/** The problem `reason` describes, with the server's `fix` and git `output` when present. */
export function problemOf(reason: unknown): IProblem {
  if (reason instanceof ApoloResponseError) {
    return {
      message: reason.message,
      fix: reason.fix,
      output: reason.body?.output
    };
  }
  if (reason instanceof ServerConnection.NetworkError) {
    return { message: `Cannot reach the Jupyter server: ${reason.message}` };
  }
  return { message: reason instanceof Error ? reason.message : String(reason) };
}

/**
 * Whether a failed `git push` was rejected because the remote has commits this branch lacks
 * (git's `! [rejected] ... (fetch first)` / `(non-fast-forward)`): a pull and merge fixes it.
 */
export function isRejectedPush(problem: IProblem | null): boolean {
  return /\[rejected\]|\(fetch first\)|non-fast-forward/.test(
    problem?.output ?? ''
  );
}

/**
 * Whether `path` is a copy a conflicting pull left beside a file (the storage version
 * `name.from-storage[-N].ext`, or nbdime's marked merge `name.merge-conflicts[-N].ext`): to
 * resolve, never committed by the panel.
 */
export function isConflictCopy(path: string): boolean {
  return /\.(from-storage|merge-conflicts)(-\d+)?(\.[^./]+)?$/.test(path);
}

/** Joins root-relative path parts, skipping empty ones. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter(p => p)
    .join('/')
    .replace(/\/+/g, '/');
}

/** The notebooks folder relative to the Jupyter root, for a plan. */
export function notebooksFolder(
  plan: Notebooks.IPlan | null,
  project: string
): string {
  return plan?.local_path ?? joinPath(project, 'notebooks');
}

/**
 * The sync and git state of one flow project. Methods never reject: failures land in
 * `problem` / `opProblem`. Overlapping refreshes resolve with the newest answer.
 */
export class NotebooksModel {
  constructor(settings: ServerConnection.ISettings, path = '') {
    this._settings = settings;
    this._state = { ...EMPTY, path };
  }

  get state(): INotebooksState {
    return this._state;
  }

  get stateChanged(): ISignal<this, INotebooksState> {
    return this._changed;
  }

  /** Whether `clear outputs before commit` is on (from the settings). */
  clearOutputs = false;

  /** Point the panel at another project folder and reload. */
  async setPath(path: string): Promise<void> {
    this._set({ path: path.replace(/^\/+|\/+$/g, ''), ticked: new Set() });
    await this.refresh();
  }

  /** Plan both directions and read git status. */
  async refresh(): Promise<void> {
    const token = ++this._generation;
    this._set({ phase: 'loading', problem: null });
    const path = this._state.path;
    try {
      const [pull, push] = await Promise.all([
        this._plan('pull'),
        this._plan('push')
      ]);
      if (token !== this._generation) {
        return;
      }
      const { git, gitProblem } = await this._gitStatus(pull);
      if (token !== this._generation) {
        return;
      }
      this._set({
        phase: 'ready',
        pull,
        push,
        git,
        gitProblem,
        candidates: [],
        ticked: keepTicked(this._state.ticked, pull, push)
      });
    } catch (reason) {
      if (token !== this._generation) {
        return;
      }
      const candidates = await this._projects();
      if (token !== this._generation) {
        return;
      }
      if (candidates.length === 1 && candidates[0] !== path && !path) {
        // The workspace holds one flow project: that is the one the user means.
        this._set({ path: candidates[0] });
        return this.refresh();
      }
      this._set({
        phase: 'error',
        problem: problemOf(reason),
        pull: null,
        push: null,
        git: null,
        candidates
      });
    }
  }

  /** Tick or untick a proposed deletion. */
  toggle(path: string): void {
    const ticked = new Set(this._state.ticked);
    if (!ticked.delete(path)) {
      ticked.add(path);
    }
    this._set({ ticked });
  }

  /**
   * Apply the shown plan of `direction` with the ticked deletions of that direction. When
   * storage or the folder moved since it was shown, nothing is done: the new plan is shown with
   * the moved rows marked.
   */
  async apply(direction: Notebooks.Direction): Promise<void> {
    const plan = direction === 'pull' ? this._state.pull : this._state.push;
    if (!plan || this._state.running) {
      return;
    }
    const deletable = new Set(
      plan.changes
        .filter(
          c => c.action === 'delete-local' || c.action === 'delete-remote'
        )
        .map(c => c.path)
    );
    const body: Notebooks.IApplyRequest = {
      path: this._state.path,
      direction,
      delete: [...this._state.ticked].filter(p => deletable.has(p))
    };
    if (plan.id) {
      body.plan = plan.id;
    }
    const abort = new AbortController();
    this._abort = abort;
    this._set({
      running: { kind: direction, done: 0, total: 0, path: '', bytes: 0 },
      outcome: null,
      opProblem: null,
      moved: []
    });
    let result: Extract<Notebooks.ApplyEvent, { event: 'result' }> | null =
      null;
    try {
      for await (const event of requestNDJSON<Notebooks.ApplyEvent>(
        'notebooks/apply',
        { method: 'POST', json: body, signal: abort.signal },
        this._settings
      )) {
        if (event.event === 'progress') {
          this._set({ running: { kind: direction, ...event } });
        } else if (event.event === 'result') {
          result = event;
        } else {
          this._set({ opProblem: { message: event.error } });
        }
      }
      if (result) {
        this._set({
          outcome: { kind: 'sync', result },
          ticked: new Set()
        });
      }
    } catch (reason) {
      if (abort.signal.aborted) {
        this._set({
          opProblem: {
            message:
              'Cancelled: the files already transferred are kept and recorded; the plan below shows what is left.'
          }
        });
      } else if (
        reason instanceof ApoloResponseError &&
        reason.status === 409 &&
        (reason.body as { plan?: Notebooks.IPlan } | null)?.plan
      ) {
        const fresh = (reason.body as unknown as { plan: Notebooks.IPlan })
          .plan;
        this._set({
          [direction]: fresh,
          moved: changedRows(plan, fresh),
          opProblem: { message: reason.message }
        });
        return;
      } else {
        this._set({ opProblem: problemOf(reason) });
      }
    } finally {
      this._abort = null;
      this._set({ running: null });
    }
    await this.refresh();
  }

  /** Stop a running pull or push (the files in flight finish; what finished is recorded). */
  cancel(): void {
    this._abort?.abort();
  }

  /**
   * Commit exactly the changes shown under the notebooks folder with `message`. A failure (empty
   * message, a hook that refused) keeps the message for another try.
   */
  async commit(message: string): Promise<boolean> {
    const git = this._state.git;
    if (!git || this._state.running) {
      return false;
    }
    const paths = this.commitPaths();
    if (!paths.length) {
      this._set({
        opProblem: { message: 'Nothing to commit in the notebooks folder.' }
      });
      return false;
    }
    return this._gitStep('commit', async () => ({
      kind: 'commit',
      commit: await requestAPI<Notebooks.ICommitResult>(
        'notebooks/commit',
        {
          method: 'POST',
          json: { message, paths, clear_outputs: this.clearOutputs }
        },
        this._settings
      )
    }));
  }

  /** `git push` (never forced). */
  async pushGit(): Promise<boolean> {
    return this._gitStep('git-push', async () => {
      const pushed = await requestAPI<Notebooks.IPushResult>(
        'notebooks/push',
        { method: 'POST', json: { path: this._state.path || '.' } },
        this._settings
      );
      return { kind: 'git-push', output: pushed.output };
    });
  }

  /**
   * `git pull` (fetch, then fast-forward or merge with nbdime's driver for notebooks; never
   * rebase or force), then re-plan and re-read git status: the pull changed the folder.
   */
  async pullGit(): Promise<boolean> {
    return this._gitStep('git-pull', async () => ({
      kind: 'git-pull',
      pull: await requestAPI<Notebooks.IPullResult>(
        'notebooks/pull',
        { method: 'POST', json: { path: this._state.path || '.' } },
        this._settings
      )
    }));
  }

  /**
   * Run one git step unless something runs already: `running` while it does, then its outcome or
   * its problem. Commit and pull change the folder, so they re-plan and re-read git status after.
   * Resolves with whether the step succeeded (false when it did not run).
   */
  private async _gitStep(
    kind: 'commit' | 'git-push' | 'git-pull',
    step: () => Promise<Outcome>
  ): Promise<boolean> {
    if (this._state.running) {
      return false;
    }
    this._set({
      running: { kind, done: 0, total: 0, path: '', bytes: 0 },
      opProblem: null,
      outcome: null
    });
    let ok = false;
    try {
      this._set({ outcome: await step() });
      ok = true;
    } catch (reason) {
      this._set({ opProblem: problemOf(reason) });
    } finally {
      this._set({ running: null });
    }
    if (kind !== 'git-push') {
      await this.refresh();
    }
    return ok;
  }

  /** The root-relative paths `commit` stages: the git changes shown, mapped from the repository. */
  commitPaths(): string[] {
    const git = this._state.git;
    if (!git) {
      return [];
    }
    const folder = notebooksFolder(this._state.pull, this._state.path);
    const inRepo = repoRelative(this._state.pull, git);
    return git.files
      .filter(f => !isConflictCopy(f.path))
      .map(f =>
        inRepo !== null && f.path.startsWith(inRepo)
          ? joinPath(folder, f.path.slice(inRepo.length))
          : joinPath(folder, f.path)
      );
  }

  dispose(): void {
    this._abort?.abort();
    Signal.clearData(this);
  }

  private async _plan(
    direction: Notebooks.Direction
  ): Promise<Notebooks.IPlan> {
    return requestAPI<Notebooks.IPlan>(
      'notebooks/plan',
      { query: { path: this._state.path, direction } },
      this._settings
    );
  }

  private async _gitStatus(
    plan: Notebooks.IPlan
  ): Promise<{ git: Notebooks.IGitStatus | null; gitProblem: string | null }> {
    try {
      const git = await requestAPI<Notebooks.IGitStatus>(
        'notebooks/status',
        { query: { path: notebooksFolder(plan, this._state.path) } },
        this._settings
      );
      return { git, gitProblem: null };
    } catch (reason) {
      return { git: null, gitProblem: problemOf(reason).message };
    }
  }

  /** Flow projects anywhere in the workspace (below the Jupyter root). */
  private async _projects(): Promise<string[]> {
    try {
      const found = await requestAPI<Notebooks.IProjects>(
        'notebooks/projects',
        {},
        this._settings
      );
      return found.projects.map(p => p.path);
    } catch {
      return []; // an older server extension: the user types the folder
    }
  }

  private _set(patch: Partial<INotebooksState>): void {
    this._state = { ...this._state, ...patch };
    this._changed.emit(this._state);
  }

  private _settings: ServerConnection.ISettings;
  private _state: INotebooksState;
  private _changed = new Signal<this, INotebooksState>(this);
  private _generation = 0;
  private _abort: AbortController | null = null;
}

const EMPTY: INotebooksState = {
  path: '',
  phase: 'idle',
  problem: null,
  pull: null,
  push: null,
  git: null,
  gitProblem: null,
  running: null,
  outcome: null,
  opProblem: null,
  moved: [],
  ticked: new Set(),
  candidates: []
};

/** The notebooks folder relative to the repository root ('' when it is the root), or null. */
export function repoRelative(
  plan: Notebooks.IPlan | null,
  git: Notebooks.IGitStatus
): string | null {
  if (!plan) {
    return null;
  }
  const root = git.root.replace(/\/+$/, '');
  if (plan.local === root) {
    return '';
  }
  return plan.local.startsWith(root + '/')
    ? plan.local.slice(root.length + 1) + '/'
    : null;
}

/** Paths whose planned step differs between two plans of one direction. */
export function changedRows(
  before: Notebooks.IPlan,
  after: Notebooks.IPlan
): string[] {
  const key = (c: Notebooks.IChange) => `${c.action}\u0000${c.reason}`;
  const old = new Map(before.changes.map(c => [c.path, key(c)]));
  const now = new Map(after.changes.map(c => [c.path, key(c)]));
  const paths = new Set([...old.keys(), ...now.keys()]);
  return [...paths].filter(p => old.get(p) !== now.get(p)).sort();
}

/** Ticks that still name a proposed deletion in either plan. */
function keepTicked(
  ticked: ReadonlySet<string>,
  ...plans: Notebooks.IPlan[]
): Set<string> {
  const still = new Set<string>();
  for (const plan of plans) {
    for (const c of plan.changes) {
      if (c.action === 'delete-local' || c.action === 'delete-remote') {
        still.add(c.path);
      }
    }
  }
  return new Set([...ticked].filter(p => still.has(p)));
}
