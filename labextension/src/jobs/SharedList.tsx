/**
 * The Jobs panel's "Shared with me" and "Shared by me" views (`apolo acl ls`, `apolo acl ls
 * --shared`): job rows open the web UI or logs; my shares have a revoke button.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { describeError, ILoadError } from './model';
import { ErrorBanner, IJobsActions } from './parts';
import { ISharedPermission } from './types';

/** "Shared with me" (`apolo acl ls`) or "Shared by me" (`apolo acl ls --shared`). */
export function SharedList(props: {
  which: 'with' | 'by';
  actions: IJobsActions;
  trans: TranslationBundle;
  /** The name of a listed job with this URI, if it has one. */
  nameOf: (uri: string) => string | null;
}): JSX.Element {
  const { which, actions, trans, nameOf } = props;
  const [rows, setRows] = React.useState<ISharedPermission[] | null>(null);
  const [error, setError] = React.useState<ILoadError | null>(null);
  const load = React.useCallback(async () => {
    try {
      setRows(
        await (which === 'with' ? actions.sharedWithMe() : actions.sharedByMe())
      );
      setError(null);
    } catch (reason) {
      setError(describeError(reason));
    }
  }, [which, actions]);
  React.useEffect(() => {
    void load();
  }, [load]);

  if (error) {
    return <ErrorBanner error={error} />;
  }
  if (!rows) {
    return <p className="jp-Apolo-count">{trans.__('Loading…')}</p>;
  }
  if (rows.length === 0) {
    return (
      <div className="jp-Apolo-empty" data-empty={which}>
        <p>
          {which === 'with'
            ? trans.__('Nobody has shared anything with you yet.')
            : trans.__('You have not shared anything yet.')}
        </p>
      </div>
    );
  }
  return (
    <ul className="jp-Apolo-sharedList" data-which={which}>
      {rows.map(row => {
        const isJob = row.uri.startsWith('job:');
        const name = isJob ? nameOf(row.uri) : null;
        return (
          <li
            key={`${row.uri}|${row.user ?? ''}`}
            className="jp-Apolo-sharedRow"
            data-uri={row.uri}
          >
            <div className="jp-Apolo-jobLine">
              <span className="jp-Apolo-jobName" title={row.uri}>
                {name ?? row.short}
              </span>
              <span className="jp-Apolo-grantAction">{row.action}</span>
            </div>
            {name && (
              <div className="jp-Apolo-jobLine jp-Apolo-jobMeta">
                <span className="jp-Apolo-mono jp-Apolo-sharedUri">
                  {row.short}
                </span>
              </div>
            )}
            <div className="jp-Apolo-jobLine jp-Apolo-sharedActions">
              {row.user && (
                <span className="jp-Apolo-jobOwner">
                  {trans.__('with %1', row.user)}
                </span>
              )}
              {isJob && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-openUI"
                  onClick={() => actions.openUI(row.uri)}
                >
                  {trans.__('Open web UI')}
                </Button>
              )}
              {isJob && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-openLogs"
                  onClick={() => actions.openLogs(row.uri)}
                >
                  {trans.__('Logs')}
                </Button>
              )}
              {row.user && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-revoke"
                  onClick={async () => {
                    if (await actions.revoke(row.uri, row.user!)) {
                      await load();
                    }
                  }}
                >
                  {trans.__('Revoke')}
                </Button>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
