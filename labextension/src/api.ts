/**
 * The browser side of the jupyter-apolo REST contract (see jupyter_apolo/server/handlers.py).
 *
 * Everything goes through `ServerConnection.makeRequest`, so the Jupyter token and XSRF
 * header are added by JupyterLab; the platform token stays on the server.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The REST contract version this UI speaks (`api` in `GET apolo/version`). */
export const SUPPORTED_API = 1;

/** The fix shown when the server extension is absent or speaks another API version (`command`). */
export const MISSING_EXTENSION =
  'server extension missing or outdated: `pip install jupyter-apolo` and restart JupyterLab';

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

/** What the sidebar shows: one of four mutually exclusive states. */
export type Connection =
  | { kind: 'connected'; context: IApoloContext }
  | { kind: 'unconfigured'; error: string; fix?: string }
  | { kind: 'missing-extension'; detail: string }
  | { kind: 'error'; error: string };

interface IAnswer {
  status: number;
  body: any;
}

/** GET `<base_url>apolo/<path>` and parse the JSON body (null when it is not JSON). */
async function get(path: string, settings: ServerConnection.ISettings): Promise<IAnswer> {
  const url = URLExt.join(settings.baseUrl, 'apolo', path);
  const response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  let body: any = null;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

function errorText(answer: IAnswer, what: string): string {
  return answer.body?.error ?? `${what} answered HTTP ${answer.status}`;
}

/**
 * Ask the server extension who we are connected as.
 *
 * First the version handshake (`GET apolo/version`: 404, or an `api` other than
 * `SUPPORTED_API`, means the server extension is missing or outdated), then
 * `GET apolo/context` (503 `{"error", "fix"}` when no credentials are configured).
 * Never throws: network failures become `{kind: 'error'}`.
 */
export async function loadConnection(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Connection> {
  try {
    const version = await get('version', settings);
    if (version.status === 404) {
      return { kind: 'missing-extension', detail: 'GET apolo/version answered 404' };
    }
    if (version.status !== 200) {
      return { kind: 'error', error: errorText(version, 'The Jupyter server') };
    }
    if (version.body?.api !== SUPPORTED_API) {
      return {
        kind: 'missing-extension',
        detail: `server extension ${version.body?.version ?? '?'} speaks API ${version.body?.api}, this UI needs ${SUPPORTED_API}`
      };
    }
    const context = await get('context', settings);
    if (context.status === 200) {
      return { kind: 'connected', context: context.body as IApoloContext };
    }
    if (context.status === 503) {
      return { kind: 'unconfigured', error: errorText(context, 'apolo/context'), fix: context.body?.fix };
    }
    return { kind: 'error', error: errorText(context, 'apolo/context') };
  } catch (reason) {
    return { kind: 'error', error: `Cannot reach the Jupyter server: ${(reason as Error).message}` };
  }
}
