/**
 * The public surface of jupyter-apolo's JupyterLab side: the `IApoloConnection` token other
 * plugins require, the command ids (stable: users script them), and the REST types of the
 * server extension under `<base_url>apolo/` (see jupyter_apolo/server/*.py for the contract).
 */
import { ServerConnection } from '@jupyterlab/services';
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

/** The REST contract version this UI speaks (`api` in `GET apolo/version`). */
export const SUPPORTED_API = 1;

/** The gettext domain of every string this extension shows (`translator.load(DOMAIN)`). */
export const TRANSLATION_DOMAIN = 'jupyter_apolo';

/** Command ids. Arguments are given as they will be accepted (issues 12-14). */
export namespace CommandIDs {
  /** Ask the server again which Apolo user, cluster and project it uses. */
  export const refresh = 'apolo:refresh';
  // Jobs panel and sharing.
  export const openJobs = 'apolo:open-jobs';
  /** `{uri?, user?, action?}`: open the Share dialog pre-filled. */
  export const share = 'apolo:share';
  /** `{uri, user}` (confirm first). */
  export const revoke = 'apolo:revoke';
  /** `{id}` (confirm first). */
  export const killJob = 'apolo:kill-job';
  /** `{id}` */
  export const openJobLogs = 'apolo:open-job-logs';
  /** `{id}` */
  export const openJobUI = 'apolo:open-job-ui';
  /** Enabled only when JupyterLab runs inside a platform job. */
  export const shareThisJob = 'apolo:share-this-job';
  // Storage drive.
  /** `{path?}` */
  export const openStorage = 'apolo:open-storage';
  /** `{uri, dst?}` */
  export const copyToWorkspace = 'apolo:copy-to-workspace';
  /** `{path, dst?}` */
  export const uploadToStorage = 'apolo:upload-to-storage';
  // Notebooks panel.
  export const openNotebooks = 'apolo:open-notebooks';
  /** `{path?}` */
  export const notebooksPull = 'apolo:notebooks-pull';
  /** `{path?}` */
  export const notebooksPush = 'apolo:notebooks-push';
  /** `{message, path?}` */
  export const notebooksCommit = 'apolo:notebooks-commit';
  /** `{path?}`: git pull (fetch, then fast-forward or merge; never rebase or force). */
  export const notebooksGitPull = 'apolo:notebooks-git-pull';
}

// ---------------------------------------------------------------------------------------------
// REST types. Sizes are in bytes, times in epoch seconds.

/** Every error answer: `{"error": message, ...}`; `fix` says what to do when the server knows. */
export interface IErrorBody {
  error: string;
  fix?: string;
  /** The platform's name for what is missing (e.g. a permission). */
  missing?: string;
  /** Symbolic errno from storage, e.g. `ENOENT`. */
  errno?: string;
  /** git's own output (notebooks commit/push/pull failures). */
  output?: string;
  /** HTTP status of a failed background task (transfers). */
  status?: number;
  /** Where a chunked upload resumes (a 409 of `apolo/drive/uploads/<id>`), in bytes. */
  offset?: number;
}

/** `GET apolo/version`. */
export interface IVersionInfo {
  version: string;
  api: number;
}

/** `GET apolo/context`: who the server extension talks to the platform as. */
export interface IApoloContext {
  user: string;
  cluster: string | null;
  org: string | null;
  project: string | null;
  platform: { url: string; embedded: boolean };
  /** Set when JupyterLab itself runs inside a platform job. */
  job: { id: string; name?: string | null } | null;
}

/** `POST apolo/transfers` body. `download`: storage `src` -> workspace `dst`; `upload`: the reverse. */
export interface ITransferRequest {
  direction: 'download' | 'upload';
  src: string;
  dst: string;
  overwrite?: boolean;
}

/** A transfer task (`GET apolo/transfers[/<id>]`); totals are null while unknown. */
export interface ITransfer {
  id: string;
  direction: 'download' | 'upload';
  src: string;
  dst: string;
  bytes: number;
  bytes_total: number | null;
  files: number;
  files_total: number | null;
  /** The file being copied now, workspace-relative for downloads. */
  current: string;
  done: boolean;
  error: IErrorBody | null;
  /** Names the copy left alone (control paths, names that cannot exist here, symlinks), with why. */
  skipped?: { path: string; reason: string }[];
}

/** Namespaced types of `apolo/notebooks/*`. */
export namespace Notebooks {
  export type Direction = 'pull' | 'push';

  /** One planned step of a sync. */
  export interface IChange {
    path: string;
    action:
      | 'download'
      | 'upload'
      | 'conflict'
      | 'delete-local'
      | 'delete-remote'
      | 'forget';
    reason: string;
    size: number;
  }

  /** A path sync leaves alone, with the reason (`side`: `storage` or `local`). */
  export interface ISkipped {
    path: string;
    side: string;
    reason: string;
  }

  /** `GET apolo/notebooks/plan?path=P&direction=pull|push`. */
  export interface IPlan {
    /** Fingerprint of the plan: `apply` with it does exactly this plan or answers 409. */
    id?: string;
    direction: Direction;
    /** The notebooks folder, absolute on the server. */
    local: string;
    /** The notebooks folder relative to the Jupyter root (what the file browser shows). */
    local_path?: string;
    remote: string;
    unchanged: number;
    changes: IChange[];
    /** What the other direction would carry. */
    elsewhere: IChange[];
    skipped?: ISkipped[];
  }

  /** `GET apolo/notebooks/projects`: flow projects at or below the Jupyter root. */
  export interface IProjects {
    projects: { path: string; notebooks: string }[];
  }

  /**
   * `POST apolo/notebooks/apply` body; `delete`: the deletions ticked (or true/false); `plan`:
   * the id of the plan the user reviewed (409 `{error, plan}` when it is stale).
   */
  export interface IApplyRequest {
    path: string;
    direction: Direction;
    delete?: boolean | string[];
    plan?: string;
  }

  /**
   * A notebook changed on both sides: `merged` when the cell-level merge had no conflict;
   * otherwise `kept_as` is the storage version beside yours and `merge_as` the merge with
   * conflict markers (both null when not made).
   */
  export interface IConflict {
    path: string;
    reason: string;
    kept_as: string | null;
    merge_as?: string | null;
  }

  /** The NDJSON lines of `POST apolo/notebooks/apply`. */
  export type ApplyEvent =
    | {
        event: 'progress';
        done: number;
        total: number;
        path: string;
        action: IChange['action'];
        bytes: number;
      }
    | {
        event: 'result';
        direction: Direction;
        downloaded: string[];
        uploaded: string[];
        deleted: string[];
        verified: string[];
        conflicts: IConflict[];
        /** Notebooks changed on both sides whose cell-level merge was clean. */
        merged?: string[];
        proposed_deletions: string[];
        skipped?: ISkipped[];
        bytes: number;
        transferred: number;
      }
    | { event: 'error'; error: string };

  /** `GET apolo/notebooks/status?path=P`: `git status --porcelain` codes. */
  export interface IGitStatus {
    root: string;
    files: { path: string; index: string; worktree: string }[];
  }

  /**
   * `GET apolo/notebooks/diff?path=FILE[&direction=pull|push]`: nbdime's base and diff for
   * notebooks. Without `direction`: git HEAD -> working tree; `pull`: this file -> the storage
   * version (what a pull brings); `push`: the storage version -> this file (what a push sends).
   */
  export type Diff =
    | {
        kind: 'notebook';
        path: string;
        base: Record<string, unknown>;
        diff: unknown[];
        text: string;
      }
    | { kind: 'text'; path: string; text: string };

  /** `POST apolo/notebooks/commit`. */
  export interface ICommitRequest {
    message: string;
    paths: string[];
    clear_outputs?: boolean;
  }

  export interface ICommitResult {
    sha: string;
    summary: string;
    files: string[];
    output: string;
  }

  /** `POST apolo/notebooks/push` (never forces). */
  export interface IPushRequest {
    path: string;
    remote?: string;
  }

  export interface IPushResult {
    output: string;
  }

  /** `POST apolo/notebooks/pull` `{path, remote?}`: fetch, then fast-forward or merge (never rebase or force). */
  export interface IPullResult {
    outcome: 'up-to-date' | 'fast-forward' | 'merged';
    /** What was merged, e.g. `origin/main`. */
    upstream: string;
    /** HEAD before and after (full shas). */
    previous: string;
    head: string;
    /** Paths (relative to the repository root) the pull changed. */
    files: string[];
    output: string;
  }
}

// ---------------------------------------------------------------------------------------------
// The connection model.

/**
 * What the server extension said last, one of five mutually exclusive states. Messages in
 * `error`/`fix` are the server's own (not translated); the rest is data the UI words.
 */
export type ConnectionState =
  | { kind: 'loading' }
  | { kind: 'connected'; context: IApoloContext; version: IVersionInfo }
  /** The server extension answers but has no platform credentials (503). */
  | { kind: 'unconfigured'; error: string; fix?: string }
  /** `apolo/version` is absent (404) or speaks another API version. */
  | {
      kind: 'missing-extension';
      /** null when the handshake answered 404. */
      server: IVersionInfo | null;
    }
  /** Anything else; `unreachable` when the Jupyter server itself did not answer. */
  | { kind: 'error'; error: string; unreachable?: boolean };

/**
 * The shared connection to the jupyter-apolo server extension. Panels require this token and
 * listen to `stateChanged` instead of fetching who the user is themselves.
 */
export interface IApoloConnection {
  /** The last state (`loading` until the first refresh ends, and during a refresh). */
  readonly state: ConnectionState;
  /** The context when connected, else null. */
  readonly context: IApoloContext | null;
  /** The app's server settings, for `requestAPI`. */
  readonly serverSettings: ServerConnection.ISettings;
  /** Emitted with the new state on every change. */
  readonly stateChanged: ISignal<IApoloConnection, ConnectionState>;
  /**
   * Redo the version handshake and reload `apolo/context`. Never rejects; overlapping calls
   * resolve with the newest answer.
   */
  refresh(): Promise<ConnectionState>;
}

/** The token of the connection model (provided by `jupyter-apolo:connection`). */
export const IApoloConnection = new Token<IApoloConnection>(
  'jupyter-apolo:IApoloConnection',
  'The connection to the jupyter-apolo server extension: who the user is on which Apolo platform.'
);
