/**
 * Typed calls to the jupyter-apolo server extension under `<base_url>apolo/`.
 *
 * Everything goes through `ServerConnection.makeRequest` with the app's server settings, so
 * JupyterLab adds the Jupyter token and the XSRF header; the platform token stays on the server.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IErrorBody } from './tokens';

/** HTTP methods the server extension answers. */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** `RequestInit` plus `json` (sent as a JSON body) and `query` (appended as parameters). */
export interface IRequestOptions extends Omit<RequestInit, 'method'> {
  method?: Method;
  json?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
}

/**
 * A non-2xx answer. `message` is the server's `error` (or `"<path> answered HTTP <status>"`
 * when the body is not the extension's JSON error shape); `fix` says what to do when known;
 * `body` is the whole parsed error body (null when it was not JSON).
 */
export class ApoloResponseError extends ServerConnection.ResponseError {
  constructor(response: Response, body: IErrorBody | null, fallback: string) {
    super(response, body?.error || fallback);
    this.name = 'ApoloResponseError';
    this.status = response.status;
    this.body = body;
    this.fix = body?.fix;
  }

  /** The HTTP status. */
  readonly status: number;
  /** What to do about it, as the server words it. */
  readonly fix: string | undefined;
  /** The parsed `{"error", ...}` body, or null. */
  readonly body: IErrorBody | null;

  /** Read `response`'s body and build the error (never throws). */
  static async fromResponse(
    response: Response,
    what = 'The Jupyter server'
  ): Promise<ApoloResponseError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The body was already read or the connection dropped: the status is all we have.
    }
    return new ApoloResponseError(
      response,
      parseErrorBody(text),
      `${what} answered HTTP ${response.status}`
    );
  }
}

/**
 * The `{"error": str, ...}` object in `text`, or null when `text` is not JSON of that shape
 * (e.g. the HTML 404 page tornado sends for an unknown route).
 */
export function parseErrorBody(text: string): IErrorBody | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (
    data === null ||
    typeof data !== 'object' ||
    typeof (data as IErrorBody).error !== 'string'
  ) {
    return null;
  }
  return data as IErrorBody;
}

/** The full URL of `apolo/<path>` with `query`. */
export function apoloUrl(
  settings: ServerConnection.ISettings,
  path: string,
  query?: IRequestOptions['query']
): string {
  const url = URLExt.join(settings.baseUrl, 'apolo', path);
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) {
      params.append(key, String(value));
    }
  }
  const search = params.toString();
  return search ? `${url}?${search}` : url;
}

/**
 * Send a request and return the raw response once its status is 2xx.
 *
 * @throws ServerConnection.NetworkError when the Jupyter server does not answer;
 *   ApoloResponseError on a non-2xx status.
 */
export async function requestRaw(
  path: string,
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Response> {
  const { json, query, ...init } = options;
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    const headers = new Headers(init.headers);
    if (!headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    init.headers = headers;
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      apoloUrl(settings, path, query),
      { method: 'GET', ...init },
      settings
    );
  } catch (reason) {
    throw reason instanceof ServerConnection.NetworkError
      ? reason
      : new ServerConnection.NetworkError(reason as TypeError);
  }
  if (!response.ok) {
    throw await ApoloResponseError.fromResponse(response, `apolo/${path}`);
  }
  return response;
}

/**
 * Call `apolo/<path>` and return its JSON answer as `T` (`undefined` for an empty body, e.g. 204).
 *
 * @param path - below `apolo/`, e.g. `context` or `transfers/<id>`.
 * @param options - method (GET by default), `json` body, `query` parameters, other fetch options.
 * @param settings - the app's `serviceManager.serverSettings` (default: `makeSettings()`).
 * @throws ServerConnection.NetworkError, ApoloResponseError (non-2xx), or ApoloResponseError
 *   with the status when a 2xx body is not JSON.
 */
export async function requestAPI<T>(
  path: string,
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const response = await requestRaw(path, options, settings);
  const text = await response.text();
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApoloResponseError(
      response,
      null,
      `apolo/${path} answered HTTP ${response.status} with a body that is not JSON`
    );
  }
}

/** The minimum of a `Response` the NDJSON reader needs. */
export interface IStreamSource {
  body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/**
 * Parse an `application/x-ndjson` body line by line as it arrives: one JSON value per
 * non-empty line; a last line without its newline still counts. Chunks may split lines and
 * multi-byte characters anywhere.
 *
 * @throws SyntaxError naming the line number when a line is not JSON.
 */
export async function* readNDJSON<T>(source: IStreamSource): AsyncGenerator<T> {
  let lineNumber = 0;
  const parse = (line: string): T => {
    lineNumber++;
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new SyntaxError(
        `NDJSON line ${lineNumber} is not JSON: ${line.slice(0, 80)}`
      );
    }
  };
  if (!source.body) {
    // Environments without streamed bodies: the lines arrive all at once.
    for (const line of (await source.text()).split('\n')) {
      if (line.trim()) {
        yield parse(line);
      }
    }
    return;
  }
  const reader = source.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      pending += done
        ? decoder.decode()
        : decoder.decode(value, { stream: true });
      const lines = pending.split('\n');
      pending = done ? '' : lines.pop()!;
      for (const line of lines) {
        if (line.trim()) {
          yield parse(line);
        }
      }
      if (done) {
        return;
      }
    }
  } finally {
    // A consumer that stops early (break) cancels the download instead of leaving it open.
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Call `apolo/<path>` and iterate over its NDJSON answer (e.g. `POST apolo/notebooks/apply`).
 * Errors before the first line as in `requestRaw`.
 */
export async function* requestNDJSON<T>(
  path: string,
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): AsyncGenerator<T> {
  yield* readNDJSON<T>(await requestRaw(path, options, settings));
}
