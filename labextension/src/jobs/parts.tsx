/**
 * Small pieces the Jobs panel's views share: the actions interface, the status badge and the
 * problem line.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { errorText, ILoadError } from './model';
import { IJobDetails, ISharedPermission } from './types';

/** What the view asks the plugin to do (commands behind each). */
export interface IJobsActions {
  details(id: string): Promise<IJobDetails>;
  openLogs(id: string): void;
  openUI(id: string): void;
  share(uri: string): void;
  /** Resolves true when the job was killed. */
  kill(id: string): Promise<boolean>;
  revoke(uri: string, user: string): Promise<boolean>;
  copy(text: string): void;
  sharedWithMe(): Promise<ISharedPermission[]>;
  sharedByMe(): Promise<ISharedPermission[]>;
}

/** The status words, translated. */
export function statusLabel(status: string, trans: TranslationBundle): string {
  switch (status) {
    case 'pending':
      return trans.__('pending');
    case 'running':
      return trans.__('running');
    case 'suspended':
      return trans.__('suspended');
    case 'succeeded':
      return trans.__('succeeded');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    default:
      return status;
  }
}

/** The status as a coloured dot and word (colour class per status). */
export function StatusBadge(props: {
  status: string;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <span
      className={`jp-Apolo-status jp-Apolo-status-${props.status}`}
      data-status={props.status}
    >
      <span className="jp-Apolo-statusDot" aria-hidden="true" />
      {statusLabel(props.status, props.trans)}
    </span>
  );
}

/** The list view's problem line (keeps the last list shown under it). */
export function ErrorBanner(props: { error: ILoadError }): JSX.Element {
  return (
    <p className="jp-Apolo-inlineError jp-Apolo-listError" role="alert">
      {errorText(props.error)}
    </p>
  );
}
