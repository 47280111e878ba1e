/**
 * A real HTTP server on 127.0.0.1 answering as the jupyter-apolo server extension would, so the
 * tests exercise `ServerConnection.makeRequest`, fetch and the body parsing end to end.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

import { ServerConnection } from '@jupyterlab/services';

/** One request as the server saw it. */
export interface ISeen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Route = (
  seen: ISeen,
  res: http.ServerResponse,
  req: http.IncomingMessage
) => void | Promise<void>;

export class FakeServer {
  /** Routes by path below the base URL (query string excluded), e.g. `apolo/version`. */
  routes = new Map<string, Route>();
  /** Every request received, in order. */
  seen: ISeen[] = [];

  async start(): Promise<this> {
    this._server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', chunk => chunks.push(chunk));
      req.on('end', () => {
        const seen: ISeen = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8')
        };
        this.seen.push(seen);
        const path = (req.url ?? '').split('?')[0].replace(/^\/base\//, '');
        const route = this.routes.get(path);
        if (!route) {
          // What tornado answers for an unknown route: HTML, not the extension's JSON.
          res.writeHead(404, { 'Content-Type': 'text/html' });
          res.end('<html><title>404: Not Found</title></html>');
          return;
        }
        void route(seen, res, req);
      });
    });
    await new Promise<void>(resolve =>
      this._server!.listen(0, '127.0.0.1', resolve)
    );
    return this;
  }

  /** Server settings whose base URL is this server's `/base/`. */
  settings(token = ''): ServerConnection.ISettings {
    const { port } = this._server!.address() as AddressInfo;
    return ServerConnection.makeSettings({
      baseUrl: `http://127.0.0.1:${port}/base/`,
      wsUrl: `ws://127.0.0.1:${port}/base/`,
      token
    });
  }

  /** Answer `path` with `status` and a JSON body. */
  json(path: string, status: number, body: unknown): void {
    this.routes.set(path, (_, res) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  }

  async stop(): Promise<void> {
    this._server?.closeAllConnections();
    await new Promise(resolve => this._server?.close(resolve));
  }

  private _server: http.Server | null = null;
}

/** Poll `check` until it returns without throwing (or fail after `timeout` ms). */
export async function waitFor(
  check: () => void,
  timeout = 3000
): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > end) {
        throw error;
      }
      await new Promise(resolve => setTimeout(resolve, 10));
    }
  }
}
