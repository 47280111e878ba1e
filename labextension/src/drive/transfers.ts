/**
 * Moving bytes with the user watching: uploads of browser files into storage (chunked, resumable,
 * cancellable) and server-side copies between storage and the workspace (`apolo/drive/copy`,
 * progress from `apolo/transfers`). Each shows a Lab notification with a progress bar and a Cancel
 * action; the notification center lists the running ones. An existing target is never replaced
 * without the user choosing skip / overwrite / keep both.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { ApoloResponseError } from '../request';
import { ITransfer } from '../tokens';
import { ConflictChoice, DriveAPI, ICopyRequest, IUploadSession } from './api';

/** How often a copy's progress is polled (ms). */
const POLL_MS = 500;

/** `12.3 MB` */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Ask what to do about an existing target; null when the dialog was dismissed (= skip). */
export async function askConflict(
  trans: TranslationBundle,
  message: string
): Promise<Exclude<ConflictChoice, 'ask'>> {
  const result = await showDialog({
    title: trans.__('Already exists'),
    body: message,
    // Enter keeps both: the default never destroys anything.
    defaultButton: 1,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Skip') }),
      Dialog.okButton({
        label: trans.__('Keep Both'),
        caption: trans.__('Copy under a free name like "name (1)"')
      }),
      Dialog.warnButton({ label: trans.__('Overwrite') })
    ]
  });
  if (!result.button.accept) {
    return 'skip';
  }
  return result.button.displayType === 'warn' ? 'overwrite' : 'keep-both';
}

/** A running upload or copy, for the status bar. */
export interface IActivity {
  id: string;
  label: string;
  done: number;
  total: number | null;
}

/** Runs uploads and copies and tells the status bar about them. */
export class TransferCenter {
  constructor(
    readonly api: DriveAPI,
    readonly trans: TranslationBundle
  ) {}

  /** Emitted whenever the running set or a progress changes. */
  get changed(): ISignal<this, IActivity[]> {
    return this._changed;
  }

  /** Emitted when transfers start or end (the status bar item shows or hides). */
  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  get running(): IActivity[] {
    return [...this._running.values()];
  }

  /**
   * Upload browser file `file` as `dir/<file.name>` on storage with `sendChunks` (several chunks
   * at once, a failed one sent again). Resolves with the final drive path, or null when
   * skipped or cancelled. Errors (e.g. the platform refusing a read-only folder) are shown and
   * rethrown.
   */
  async upload(file: File, dir: string): Promise<string | null> {
    const trans = this.trans;
    const target = dir ? `${dir}/${file.name}` : file.name;
    let session: IUploadSession;
    try {
      session = await this._startUpload(target, file);
    } catch (reason) {
      if (reason === SKIPPED) {
        return null;
      }
      this._fail(trans.__('Upload of %1 failed', file.name), reason);
      throw reason;
    }
    const abort = new AbortController();
    const activity: IActivity = {
      id: session.id,
      label: file.name,
      done: 0,
      total: file.size
    };
    const note = Notification.emit(
      trans.__('Uploading %1 to storage', file.name),
      'in-progress',
      {
        autoClose: false,
        progress: 0,
        actions: [
          {
            label: trans.__('Cancel'),
            callback: () => abort.abort()
          }
        ]
      }
    );
    this._track(activity);
    try {
      const progress = (sent: number) => {
        activity.done = sent;
        this._changed.emit(this.running);
        Notification.update({
          id: note,
          message: trans.__(
            'Uploading %1 to storage: %2 of %3',
            file.name,
            formatBytes(sent),
            formatBytes(file.size)
          ),
          type: 'in-progress',
          progress: file.size ? sent / file.size : 1,
          autoClose: false,
          actions: [
            { label: trans.__('Cancel'), callback: () => abort.abort() }
          ]
        });
      };
      session = await this.api.sendFile(session, file, {
        signal: abort.signal,
        progress
      });
      Notification.update({
        id: note,
        message: trans.__('Uploaded %1 to %2', file.name, session.path),
        type: 'success',
        progress: 1,
        autoClose: 4000,
        actions: []
      });
      return session.path;
    } catch (reason) {
      void this.api.cancelUpload(session.id).catch(() => undefined);
      if (abort.signal.aborted) {
        Notification.update({
          id: note,
          message: trans.__('Upload of %1 cancelled', file.name),
          type: 'info',
          autoClose: 4000,
          actions: []
        });
        return null;
      }
      Notification.dismiss(note);
      this._fail(trans.__('Upload of %1 failed', file.name), reason);
      throw reason;
    } finally {
      this._untrack(activity);
    }
  }

  private async _startUpload(
    target: string,
    file: File
  ): Promise<IUploadSession> {
    try {
      return await this.api.startUpload(target, file.size, 'ask');
    } catch (reason) {
      if (!isConflict(reason)) {
        throw reason;
      }
      const choice = await askConflict(
        this.trans,
        this.trans.__(
          '"%1" already exists in this storage folder. Keep both, overwrite it, or skip this file?',
          file.name
        )
      );
      if (choice === 'skip') {
        throw SKIPPED;
      }
      return this.api.startUpload(target, file.size, choice);
    }
  }

  /**
   * Copy server-side (`download`: storage -> workspace, `upload`: workspace -> storage) and follow
   * its progress. Resolves with the finished task, or null when skipped or cancelled.
   */
  async copy(
    request: Omit<ICopyRequest, 'conflict'>
  ): Promise<ITransfer | null> {
    const trans = this.trans;
    let answer;
    try {
      answer = await this.api.copy({ ...request, conflict: 'ask' });
    } catch (reason) {
      if (!isConflict(reason)) {
        this._fail(trans.__('Copy of %1 failed', request.src), reason);
        throw reason;
      }
      const where =
        request.direction === 'download'
          ? trans.__('in the workspace')
          : trans.__('on storage');
      const choice = await askConflict(
        trans,
        trans.__(
          '"%1" already exists %2. Keep both, overwrite it, or skip?',
          (reason.body as { conflict?: { target?: string } })?.conflict
            ?.target ?? request.src,
          where
        )
      );
      if (choice === 'skip') {
        return null;
      }
      answer = await this.api.copy({ ...request, conflict: choice });
    }
    // A transfer task also has `skipped` (the names it left alone): only `skipped: true` is a skipped copy.
    if (answer.skipped === true) {
      return null;
    }
    return this._follow(answer);
  }

  private async _follow(task: ITransfer): Promise<ITransfer | null> {
    const trans = this.trans;
    const verb =
      task.direction === 'download'
        ? trans.__('Copying %1 to the workspace', task.src)
        : trans.__('Uploading %1 to storage', task.src);
    const cancel = {
      label: trans.__('Cancel'),
      callback: () => void this.api.cancelTransfer(task.id)
    };
    const note = Notification.emit(verb, 'in-progress', {
      autoClose: false,
      progress: 0,
      actions: [cancel]
    });
    const activity: IActivity = {
      id: task.id,
      label: task.src,
      done: 0,
      total: null
    };
    this._track(activity);
    try {
      while (!task.done) {
        await new Promise(resolve => setTimeout(resolve, POLL_MS));
        task = await this.api.transfer(task.id);
        activity.done = task.bytes;
        activity.total = task.bytes_total;
        this._changed.emit(this.running);
        Notification.update({
          id: note,
          message: `${verb}: ${formatBytes(task.bytes)}${
            task.bytes_total !== null
              ? ' / ' + formatBytes(task.bytes_total)
              : ''
          }`,
          type: 'in-progress',
          progress: task.bytes_total
            ? task.bytes / task.bytes_total
            : undefined,
          autoClose: false,
          actions: [cancel]
        });
      }
    } finally {
      this._untrack(activity);
    }
    if (task.error) {
      const cancelled = task.error.error === 'Cancelled.';
      Notification.update({
        id: note,
        message: cancelled
          ? trans.__('Cancelled: %1', verb)
          : `${verb}: ${task.error.error}`,
        type: cancelled ? 'info' : 'error',
        autoClose: cancelled ? 4000 : false,
        actions: []
      });
      return null;
    }
    Notification.update({
      id: note,
      message:
        task.direction === 'download'
          ? trans.__('Copied %1 to %2 in the workspace', task.src, task.dst)
          : trans.__('Uploaded %1 to %2', task.src, task.dst),
      type: 'success',
      progress: 1,
      autoClose: 4000,
      actions: []
    });
    return task;
  }

  private _fail(title: string, reason: unknown): void {
    const error = reason as ApoloResponseError;
    const message = error?.message ?? String(reason);
    Notification.error(
      `${title}: ${message}${error?.fix ? ' ' + error.fix : ''}`,
      { autoClose: false }
    );
  }

  private _track(activity: IActivity): void {
    this._running.set(activity.id, activity);
    this._changed.emit(this.running);
    this._activeChanged.emit();
  }

  private _untrack(activity: IActivity): void {
    this._running.delete(activity.id);
    this._changed.emit(this.running);
    this._activeChanged.emit();
  }

  private _running = new Map<string, IActivity>();
  private _changed = new Signal<this, IActivity[]>(this);
  private _activeChanged = new Signal<this, void>(this);
}

const SKIPPED = Symbol('skipped');

function isConflict(reason: unknown): reason is ApoloResponseError {
  return (
    reason instanceof ApoloResponseError &&
    reason.status === 409 &&
    !!(reason.body as { conflict?: unknown } | null)?.conflict
  );
}
