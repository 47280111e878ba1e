/**
 * The job and share operations behind the commands: each confirms when it destroys something,
 * calls the server extension, and reports the result as a JupyterLab `Notification`.
 */
import {
  Clipboard,
  Dialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { requestAPI } from '../request';
import { describeError, errorText } from './model';
import { IJobDetails } from './types';

/** `jobs/<ref>` for an id, a name or a job URI (the server resolves it by the CLI's rules). */
export function jobPath(ref: string): string {
  return `jobs/${encodeURIComponent(ref)}`;
}

/** `GET apolo/jobs/<ref>`. */
export function fetchJob(
  ref: string,
  settings: ServerConnection.ISettings
): Promise<IJobDetails> {
  return requestAPI<IJobDetails>(jobPath(ref), { cache: 'no-store' }, settings);
}

/** One line: the error and its fix. */
export function errorLine(reason: unknown): string {
  return errorText(describeError(reason));
}

/**
 * Ask, then kill job `ref` (`DELETE apolo/jobs/<ref>`). Resolves true when it was killed,
 * false when the user said no or the kill failed (the failure is notified, never thrown).
 */
export async function killJob(
  ref: string,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle,
  label = ref
): Promise<boolean> {
  const answer = await showDialog({
    title: trans.__('Kill job?'),
    body: trans.__(
      'Kill %1? Its processes stop now; what it did not save to storage is lost.',
      label
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Keep running') }),
      Dialog.warnButton({ label: trans.__('Kill') })
    ]
  });
  if (!answer.button.accept) {
    return false;
  }
  try {
    await requestAPI(jobPath(ref), { method: 'DELETE' }, settings);
    Notification.success(trans.__('Killed %1.', label), { autoClose: 5000 });
    return true;
  } catch (reason) {
    Notification.error(
      trans.__('Could not kill %1: %2', label, errorLine(reason))
    );
    return false;
  }
}

/** Ask, then revoke `user`'s access to `uri` (`DELETE apolo/shares`); true when revoked. */
export async function revokeShare(
  uri: string,
  user: string,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<boolean> {
  const answer = await showDialog({
    title: trans.__('Revoke access?'),
    body: trans.__('%1 will no longer have access to %2.', user, uri),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Keep') }),
      Dialog.warnButton({ label: trans.__('Revoke') })
    ]
  });
  if (!answer.button.accept) {
    return false;
  }
  try {
    await requestAPI(
      'shares',
      { method: 'DELETE', json: { uri, user } },
      settings
    );
    Notification.success(trans.__("Revoked %1's access to %2.", user, uri), {
      autoClose: 5000
    });
    return true;
  } catch (reason) {
    Notification.error(
      trans.__('Could not revoke %1 on %2: %3', user, uri, errorLine(reason))
    );
    return false;
  }
}

/**
 * Open job `ref`'s web UI in `tab`, a blank tab the caller opened in the click's own task
 * (browsers block pop-ups opened later), or in a new tab when it is null; the tab is closed
 * when the job has no web UI or cannot be read (notified).
 */
export async function openJobUI(
  ref: string,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle,
  tab: Window | null = null
): Promise<void> {
  try {
    const job = await fetchJob(ref, settings);
    if (!job.http_url) {
      tab?.close();
      Notification.warning(
        trans.__(
          '%1 has no web UI: it was run without --http-port.',
          job.name ?? job.id
        )
      );
      return;
    }
    if (tab) {
      tab.opener = null;
      tab.location.href = job.http_url;
    } else {
      window.open(job.http_url, '_blank', 'noopener');
    }
  } catch (reason) {
    tab?.close();
    Notification.error(
      trans.__('Could not open %1: %2', ref, errorLine(reason))
    );
  }
}

/** Copy `text` and say so. */
export function copyText(text: string, trans: TranslationBundle): void {
  Clipboard.copyToSystem(text);
  Notification.info(trans.__('Copied %1', text), { autoClose: 3000 });
}
