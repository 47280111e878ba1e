/**
 * The connection model: the version handshake and `apolo/context`, held once for every panel.
 */
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { ApoloResponseError, requestAPI } from './request';
import {
  ConnectionState,
  IApoloConnection,
  IApoloContext,
  IVersionInfo,
  SUPPORTED_API
} from './tokens';

/**
 * Ask the server extension who we are connected as.
 *
 * First `GET apolo/version` (404, or an `api` other than `SUPPORTED_API`: the server extension is
 * missing or outdated, as jupyterlab-git's handshake), then `GET apolo/context` (503
 * `{"error", "fix"}` when no credentials are configured). Never rejects.
 */
export async function loadConnectionState(
  settings: ServerConnection.ISettings
): Promise<ConnectionState> {
  let version: IVersionInfo;
  try {
    version = await requestAPI<IVersionInfo>('version', {}, settings);
  } catch (reason) {
    if (reason instanceof ApoloResponseError && reason.status === 404) {
      return { kind: 'missing-extension', server: null };
    }
    return errorState(reason);
  }
  if (version?.api !== SUPPORTED_API) {
    return { kind: 'missing-extension', server: version ?? null };
  }
  try {
    const context = await requestAPI<IApoloContext>('context', {}, settings);
    return { kind: 'connected', context, version };
  } catch (reason) {
    if (reason instanceof ApoloResponseError && reason.status === 503) {
      return { kind: 'unconfigured', error: reason.message, fix: reason.fix };
    }
    return errorState(reason);
  }
}

function errorState(reason: unknown): ConnectionState {
  if (reason instanceof ServerConnection.NetworkError) {
    return { kind: 'error', error: reason.message, unreachable: true };
  }
  return { kind: 'error', error: (reason as Error).message ?? String(reason) };
}

/** `IApoloConnection` over the app's server settings. */
export class ApoloConnection implements IApoloConnection {
  /**
   * @param options.serverSettings - the app's `serviceManager.serverSettings`.
   * @param options.load - how to fetch a state (tests pass their own; default `loadConnectionState`).
   */
  constructor(options: ApoloConnection.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._load = options.load ?? loadConnectionState;
  }

  readonly serverSettings: ServerConnection.ISettings;

  get state(): ConnectionState {
    return this._state;
  }

  get context(): IApoloContext | null {
    return this._state.kind === 'connected' ? this._state.context : null;
  }

  get stateChanged(): ISignal<IApoloConnection, ConnectionState> {
    return this._stateChanged;
  }

  refresh(): Promise<ConnectionState> {
    // The latest call wins: an older answer arriving late must not replace a newer one, and
    // every overlapping call resolves with the newest answer.
    const ticket = ++this._ticket;
    this._set({ kind: 'loading' });
    const pending = this._load(this.serverSettings).then(state => {
      if (ticket !== this._ticket) {
        return this._latest;
      }
      this._set(state);
      return state;
    });
    this._latest = pending;
    return pending;
  }

  private _set(state: ConnectionState): void {
    this._state = state;
    this._stateChanged.emit(state);
  }

  private _load: (
    settings: ServerConnection.ISettings
  ) => Promise<ConnectionState>;
  private _latest: Promise<ConnectionState> = Promise.resolve({
    kind: 'loading'
  });
  private _state: ConnectionState = { kind: 'loading' };
  private _stateChanged = new Signal<IApoloConnection, ConnectionState>(this);
  private _ticket = 0;
}

export namespace ApoloConnection {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
    load?: (settings: ServerConnection.ISettings) => Promise<ConnectionState>;
  }
}
