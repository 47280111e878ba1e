/**
 * REST types of `apolo/jobs` and `apolo/shares` (contract: jupyter_apolo/server/jobs.py and
 * shares.py module docstrings). Times are ISO 8601 UTC strings or null.
 */

/** What I may do with a job or resource. */
export type Action = 'read' | 'write' | 'manage';

/** Every job status the platform reports. */
export type JobStatus =
  'pending' | 'running' | 'suspended' | 'succeeded' | 'failed' | 'cancelled';

/** One line of `GET apolo/jobs`. */
export interface IJobSummary {
  id: string;
  name: string | null;
  owner: string;
  project: string | null;
  status: JobStatus;
  reason: string | null;
  description: string | null;
  exit_code: number | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  image: string;
  command: string | null;
  preset: string | null;
  tags: string[];
  http_url: string | null;
  uri: string;
  life_span_minutes: number | null;
  volumes: { src: string; dst: string; read_only: boolean }[];
  /** My action on it (kill needs write); null when the platform lists it without a share. */
  access: Action | null;
}

/** One status transition of `GET apolo/jobs/<job>`. */
export interface IJobTransition {
  status: string;
  reason?: string | null;
  description?: string | null;
  at?: string | null;
  transition_time?: string | null;
}

/** `GET apolo/jobs/<job>`. */
export interface IJobDetails extends IJobSummary {
  history: IJobTransition[];
}

/** A grant in `GET apolo/shares?uri=`. */
export interface IGrant {
  user: string;
  action: Action;
  uri: string;
  /** Given on an ancestor of the resource (revoke it there). */
  inherited: boolean;
  /** The grantee is a role, not a user. */
  role: boolean;
}

/** `GET apolo/shares?uri=`. */
export interface IResourceShares {
  uri: string;
  short: string;
  kind: string;
  levels: Record<Action, string>;
  /** What each level adds over the one below ("also kill it ..."): shown for the levels not chosen. */
  adds?: Record<Action, string>;
  grants: IGrant[];
}

/** A row of `?shared_with_me=1` / `?shared_by_me=1` (`user` only in the latter). */
export interface ISharedPermission {
  uri: string;
  short: string;
  action: Action;
  user?: string;
}

/** `POST apolo/shares` answer (201). */
export interface IShareResult {
  uri: string;
  short: string;
  user: string;
  action: Action;
  requested: Action;
  higher: boolean;
  message: string;
}

/** Statuses of jobs still alive, as `apolo ps` lists them by default. */
export const ACTIVE: ReadonlySet<string> = new Set([
  'pending',
  'running',
  'suspended'
]);

/** The panel's status filter: `active` is pending+running+suspended. */
export type StatusFilter = 'active' | 'running' | 'pending' | 'all';

/** What the list shows (settings give the defaults). */
export interface IJobFilter {
  status: StatusFilter;
  /** Owner name, `ME`, or '' for anyone. */
  owner: string;
  /** Text in name, id, tags or description ('' for none). */
  text: string;
}
