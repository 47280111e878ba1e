/**
 * The Share dialog (a JupyterLab `Dialog`): resource, user or role, read/write/manage with what
 * each lets the teammate do (the server's `levels`), then who has access with a revoke per row.
 * Sharing and revoking happen inside the dialog so a failure stays as one inline line naming the
 * fix, and the list refreshes in place; the dialog's own button only closes it.
 */
import { Dialog, Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { requestAPI } from '../request';
import { describeError, errorText, ILoadError } from './model';
import { Action, IGrant, IResourceShares, IShareResult } from './types';

const ACTIONS: Action[] = ['read', 'write', 'manage'];

/** What the dialog opens with (all optional, as `apolo:share` accepts them). */
export interface IShareRequest {
  uri?: string;
  user?: string;
  action?: string;
}

/** Props of `ShareForm`. */
export interface IShareFormProps extends IShareRequest {
  serverSettings: ServerConnection.ISettings;
  trans: TranslationBundle;
  /** Set by the form: what Enter in one of its text fields does. */
  enter?: { current: ((field: HTMLElement) => void) | null };
}

/** One inline line: the problem, then its fix. */
function ErrorLine(props: { error: ILoadError | null }): JSX.Element | null {
  if (!props.error) {
    return null;
  }
  return (
    <p className="jp-Apolo-inlineError" role="alert">
      {errorText(props.error)}
    </p>
  );
}

/** The form inside the dialog. */
export function ShareForm(props: IShareFormProps): JSX.Element {
  const { trans, serverSettings } = props;
  const [uri, setUri] = React.useState(props.uri ?? '');
  const [resource, setResource] = React.useState<IResourceShares | null>(null);
  const [user, setUser] = React.useState(props.user ?? '');
  const [action, setAction] = React.useState<Action>(
    ACTIONS.includes(props.action as Action) ? (props.action as Action) : 'read'
  );
  const [error, setError] = React.useState<ILoadError | null>(null);
  const [done, setDone] = React.useState<string>('');
  const [busy, setBusy] = React.useState(false);
  const [confirming, setConfirming] = React.useState<IGrant | null>(null);

  const load = React.useCallback(
    async (target: string) => {
      if (!target.trim()) {
        setResource(null);
        return;
      }
      try {
        const found = await requestAPI<IResourceShares>(
          'shares',
          { query: { uri: target.trim() }, cache: 'no-store' },
          serverSettings
        );
        setResource(found);
        // Show the resource the way the CLI writes it (job:NAME, storage:PATH), unless retyped.
        setUri(current => (current === target ? found.short : current));
        setError(null);
      } catch (reason) {
        setResource(null);
        setError(describeError(reason));
      }
    },
    [serverSettings]
  );

  // The URI it opened with; a typed one loads on blur or Enter.
  const [initial] = React.useState(uri);
  React.useEffect(() => {
    void load(initial);
  }, [load, initial]);

  const share = async () => {
    setDone('');
    if (!user.trim()) {
      setError({
        message: trans.__('No user given.'),
        fix: trans.__('Type the user name or role to share with.')
      });
      return;
    }
    setBusy(true);
    try {
      const result = await requestAPI<IShareResult>(
        'shares',
        {
          method: 'POST',
          json: {
            uri: (resource?.uri ?? uri).trim(),
            user: user.trim(),
            action
          }
        },
        serverSettings
      );
      setError(null);
      setDone(result.message);
      Notification.success(result.message, { autoClose: 5000 });
      setUser('');
      await load(result.uri);
    } catch (reason) {
      setError(describeError(reason));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (grant: IGrant) => {
    setBusy(true);
    setDone('');
    try {
      await requestAPI(
        'shares',
        { method: 'DELETE', json: { uri: grant.uri, user: grant.user } },
        serverSettings
      );
      const message = trans.__('Revoked %1 from %2.', grant.action, grant.user);
      setDone(message);
      setError(null);
      Notification.success(message, { autoClose: 5000 });
      setConfirming(null);
      await load(resource?.uri ?? uri);
    } catch (reason) {
      setError(describeError(reason));
    } finally {
      setBusy(false);
    }
  };

  // Enter in a field acts on it (ShareBody keeps it from the Dialog, which would close).
  if (props.enter) {
    props.enter.current = (field: HTMLElement) => {
      if (field.classList.contains('jp-Apolo-shareUri')) {
        void load(uri);
      } else if (field.classList.contains('jp-Apolo-shareUser')) {
        void share();
      }
    };
  }

  return (
    <div className="jp-Apolo-share">
      <label className="jp-Apolo-shareField">
        <span className="jp-Apolo-label">{trans.__('Resource')}</span>
        <input
          type="text"
          className="jp-mod-styled jp-Apolo-shareUri"
          value={uri}
          placeholder={trans.__('job:NAME_OR_ID, storage:PATH, image:NAME…')}
          onChange={event => setUri(event.target.value)}
          onBlur={() => void load(uri)}
          title={resource?.uri ?? uri}
        />
      </label>
      <label className="jp-Apolo-shareField">
        <span className="jp-Apolo-label">{trans.__('User or role')}</span>
        <input
          type="text"
          className="jp-mod-styled jp-Apolo-shareUser"
          value={user}
          placeholder={trans.__('e.g. alice')}
          autoFocus={!!uri}
          onChange={event => setUser(event.target.value)}
        />
      </label>
      <fieldset className="jp-Apolo-levels">
        <legend className="jp-Apolo-label">{trans.__('Access level')}</legend>
        {ACTIONS.map(level => (
          <label
            key={level}
            className={`jp-Apolo-level${action === level ? ' jp-mod-selected' : ''}`}
            data-level={level}
            title={resource?.levels[level]}
          >
            <input
              type="radio"
              name="jp-Apolo-level"
              value={level}
              checked={action === level}
              onChange={() => setAction(level)}
            />
            <span className="jp-Apolo-levelName">{level}</span>
            <span className="jp-Apolo-levelText">
              {(action === level
                ? resource?.levels[level]
                : (resource?.adds?.[level] ?? resource?.levels[level])) ?? ''}
            </span>
          </label>
        ))}
      </fieldset>
      <div className="jp-Apolo-shareActions">
        <Button
          className="jp-Apolo-shareButton jp-mod-styled jp-mod-accept"
          disabled={busy}
          onClick={() => void share()}
        >
          {trans.__('Share')}
        </Button>
      </div>
      {done && (
        <p className="jp-Apolo-shareDone" role="status">
          {done}
        </p>
      )}
      <ErrorLine error={error} />
      <h3 className="jp-Apolo-shareHeading">{trans.__('Who has access')}</h3>
      {resource && resource.grants.length === 0 && (
        <p className="jp-Apolo-empty">
          {trans.__('Only you (and your project) so far.')}
        </p>
      )}
      {resource && resource.grants.length > 0 && (
        <ul className="jp-Apolo-grants">
          {resource.grants.map(grant => (
            <li
              key={`${grant.user}|${grant.uri}`}
              className="jp-Apolo-grant"
              data-user={grant.user}
            >
              <span className="jp-Apolo-grantUser" title={grant.user}>
                {grant.user}
              </span>
              <span className="jp-Apolo-grantAction">{grant.action}</span>
              <span className="jp-Apolo-grantFrom" title={grant.uri}>
                {grant.role
                  ? trans.__('role')
                  : grant.inherited
                    ? trans.__('inherited')
                    : trans.__('direct share')}
              </span>
              {confirming === grant ? (
                <span className="jp-Apolo-confirm">
                  <Button
                    className="jp-Apolo-confirmRevoke"
                    minimal
                    disabled={busy}
                    onClick={() => void revoke(grant)}
                  >
                    {trans.__('Revoke %1?', grant.user)}
                  </Button>
                  <Button minimal onClick={() => setConfirming(null)}>
                    {trans.__('Keep')}
                  </Button>
                </span>
              ) : (
                <Button
                  className="jp-Apolo-revoke"
                  minimal
                  disabled={busy}
                  title={
                    grant.inherited
                      ? trans.__(
                          'Given on %1: revoking removes it there',
                          grant.uri
                        )
                      : trans.__('Revoke %1', grant.user)
                  }
                  onClick={() => setConfirming(grant)}
                >
                  {trans.__('Revoke')}
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * The dialog's body widget. The Dialog treats Enter in any text field as its default button
 * (closing it) in a capture listener on its node; ours on the document runs first and gives
 * Enter in our fields to the form instead.
 */
class ShareBody extends ReactWidget {
  constructor(private readonly _props: IShareFormProps) {
    super();
    this.addClass('jp-Apolo-shareBody');
  }

  protected render(): JSX.Element {
    return <ShareForm {...this._props} enter={this._enter} />;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    document.addEventListener('keydown', this._onKey, true);
  }

  protected onBeforeDetach(msg: Message): void {
    document.removeEventListener('keydown', this._onKey, true);
    super.onBeforeDetach(msg);
  }

  private _onKey = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement;
    if (
      event.key === 'Enter' &&
      target instanceof HTMLInputElement &&
      target.type === 'text' &&
      this.node.contains(target)
    ) {
      event.stopPropagation();
      event.preventDefault();
      this._enter.current?.(target);
    }
  };

  private _enter: { current: ((field: HTMLElement) => void) | null } = {
    current: null
  };
}

/** Open the Share dialog pre-filled with `request`; resolves when it is closed. */
export async function openShareDialog(
  request: IShareRequest,
  serverSettings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<void> {
  const dialog = new Dialog({
    title: trans.__('Share'),
    body: new ShareBody({ ...request, serverSettings, trans }),
    buttons: [Dialog.okButton({ label: trans.__('Done') })],
    hasClose: true
  });
  dialog.addClass('jp-Apolo-shareDialog');
  await dialog.launch();
}
