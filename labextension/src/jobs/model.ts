/**
 * The Jobs panel's model: the job list streamed from `GET apolo/jobs` (NDJSON), ordered running
 * first, the filters, and which watched jobs just finished. No DOM here (tested with jest).
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { ApoloResponseError, requestAPI, requestNDJSON } from '../request';
import { ACTIVE, IJobFilter, IJobSummary } from './types';

/** Order of statuses in the list: running first, then the other live ones, then finished. */
const STATUS_RANK: Record<string, number> = {
  running: 0,
  pending: 1,
  suspended: 2
};

/** Running first, then pending, suspended, finished; newest first within a status. */
export function compareJobs(a: IJobSummary, b: IJobSummary): number {
  const rank = (STATUS_RANK[a.status] ?? 3) - (STATUS_RANK[b.status] ?? 3);
  if (rank) {
    return rank;
  }
  // ISO 8601 UTC strings sort as text.
  const at = a.created_at ?? '';
  const bt = b.created_at ?? '';
  return at < bt ? 1 : at > bt ? -1 : a.id < b.id ? -1 : 1;
}

/** The `apolo/jobs` query for `filter` (server default: the live statuses, as `apolo ps`). */
export function jobsQuery(
  filter: IJobFilter
): Record<string, string | undefined> {
  return {
    status: filter.status === 'active' ? undefined : filter.status,
    owner: filter.owner.trim() || undefined,
    q: filter.text.trim() || undefined
  };
}

/** `created` as a short age ("42s", "5m", "3h", "12d") at `now` (ms); '' when unknown. */
export function formatAge(created: string | null, now = Date.now()): string {
  if (!created) {
    return '';
  }
  const seconds = Math.max(0, Math.round((now - Date.parse(created)) / 1000));
  if (Number.isNaN(seconds)) {
    return '';
  }
  if (seconds < 60) {
    return `${seconds}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)}h`;
  }
  return `${Math.floor(seconds / 86400)}d`;
}

/** A load that failed: the server's message and, when it knows, the fix. */
export interface ILoadError {
  message: string;
  fix?: string;
  status?: number;
}

/** `error` as one line: the problem, then its fix (a full stop between them when missing). */
export function errorText(error: ILoadError): string {
  const { message, fix } = error;
  if (!fix) {
    return message;
  }
  return /[.!?:]$/.test(message.trim())
    ? `${message} ${fix}`
    : `${message}. ${fix}`;
}

/** Describe any rejection of `requestAPI`/`requestNDJSON` as one line plus its fix. */
export function describeError(reason: unknown): ILoadError {
  if (reason instanceof ApoloResponseError) {
    // The server words platform failures (5xx) without a fix when it cannot know one.
    const fix =
      reason.fix ??
      (reason.status >= 500
        ? 'Check that the Apolo platform is up and reachable from the Jupyter server, then refresh.'
        : undefined);
    return { message: reason.message, fix, status: reason.status };
  }
  if (reason instanceof ServerConnection.NetworkError) {
    return {
      message: 'The Jupyter server does not answer.',
      fix: 'Check that JupyterLab is still running, then refresh.'
    };
  }
  return { message: reason instanceof Error ? reason.message : String(reason) };
}

export namespace JobsModel {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    filter: IJobFilter;
    /** Rows shown before the whole list arrived (default 200, one server batch). */
    firstBatch?: number;
  }
}

/**
 * The job list. `refresh()` streams `GET apolo/jobs` for the current filter; `changed` fires when
 * the first batch arrived and when the list is complete (never once per line).
 */
export class JobsModel {
  constructor(options: JobsModel.IOptions) {
    this._settings = options.serverSettings;
    this._filter = { ...options.filter };
    this._firstBatch = options.firstBatch ?? 200;
  }

  /** The jobs in list order (running first). */
  get jobs(): readonly IJobSummary[] {
    return this._jobs;
  }

  /** True until the first answer of the current filter arrived. */
  get loading(): boolean {
    return this._loading;
  }

  /** The last refresh's failure, or null. The previous list stays shown. */
  get error(): ILoadError | null {
    return this._error;
  }

  get filter(): IJobFilter {
    return this._filter;
  }

  /** Set the filter and reload (a pending load of the old filter is dropped). */
  set filter(filter: IJobFilter) {
    this.setFilter(filter, true);
  }

  /**
   * Set the filter; reload now when `reload`, else at the next `refresh()` (settings applied
   * while the panel is hidden must not send requests).
   */
  setFilter(filter: IJobFilter, reload: boolean): void {
    this._filter = { ...filter };
    this._generation++; // an answer to the old filter is dropped
    this._loading = true;
    this._changed.emit();
    if (reload) {
      void this.refresh();
    }
  }

  /** Emitted when jobs, loading or error changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted with a watched job's summary once it is seen finished. */
  get jobFinished(): ISignal<this, IJobSummary> {
    return this._jobFinished;
  }

  /** The job with `id` in the current list, if listed. */
  find(id: string): IJobSummary | undefined {
    return this._byId.get(id);
  }

  /** Notify (`jobFinished`) when the live job `id` is seen finished by a later refresh. */
  watch(id: string): void {
    this._watched.add(id);
  }

  /** Report that `job` was seen (e.g. by the details view) so a watched one can finish. */
  observe(job: IJobSummary): void {
    if (this._watched.has(job.id) && !ACTIVE.has(job.status)) {
      this._watched.delete(job.id);
      this._jobFinished.emit(job);
    }
  }

  /**
   * Load the list for the current filter. Never rejects: a failure sets `error` and keeps the
   * last list. Overlapping calls: only the newest one's answer is kept.
   */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    const query = jobsQuery(this._filter);
    const loaded: IJobSummary[] = [];
    let shown = false;
    try {
      for await (const job of requestNDJSON<IJobSummary>(
        'jobs',
        { query, cache: 'no-store' },
        this._settings
      )) {
        if (generation !== this._generation) {
          return; // a newer refresh (or filter) took over: stop reading this stream
        }
        loaded.push(job);
        if (!shown && this._loading && loaded.length >= this._firstBatch) {
          // A first screenful before the rest arrives (10,000 jobs stream in 50 batches).
          shown = true;
          this._set(loaded.slice(), null, true);
        }
      }
    } catch (reason) {
      if (generation === this._generation) {
        this._loading = false;
        this._error = describeError(reason);
        this._changed.emit();
      }
      return;
    }
    if (generation === this._generation) {
      this._set(loaded, null, false);
    }
  }

  /** Drop a job from the list at once (after kill) until the next refresh says otherwise. */
  update(job: IJobSummary): void {
    const index = this._jobs.findIndex(j => j.id === job.id);
    if (index >= 0) {
      this._jobs = this._jobs.slice();
      this._jobs[index] = job;
      this._byId.set(job.id, job);
      this._changed.emit();
    }
    this.observe(job);
  }

  dispose(): void {
    this._generation++;
    Signal.clearData(this);
  }

  private _set(
    jobs: IJobSummary[],
    error: ILoadError | null,
    partial: boolean
  ): void {
    jobs.sort(compareJobs);
    this._jobs = jobs;
    this._byId = new Map(jobs.map(j => [j.id, j]));
    this._error = error;
    this._loading = partial;
    this._changed.emit();
    if (!partial) {
      for (const id of [...this._watched]) {
        const job = this._byId.get(id);
        if (job) {
          this.observe(job);
        } else {
          // Finished jobs leave the default list: ask for the watched one itself.
          void this._check(id);
        }
      }
    }
  }

  private async _check(id: string): Promise<void> {
    try {
      this.observe(
        await requestAPI<IJobSummary>(
          `jobs/${encodeURIComponent(id)}`,
          {},
          this._settings
        )
      );
    } catch {
      // Gone or unreachable: try again on the next refresh.
    }
  }

  private _settings: ServerConnection.ISettings;
  private _filter: IJobFilter;
  private _firstBatch: number;
  private _jobs: IJobSummary[] = [];
  private _byId = new Map<string, IJobSummary>();
  private _loading = true;
  private _error: ILoadError | null = null;
  private _generation = 0;
  private _watched = new Set<string>();
  private _changed = new Signal<this, void>(this);
  private _jobFinished = new Signal<this, IJobSummary>(this);
}
