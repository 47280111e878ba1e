/**
 * The REST types and calls of the drive's server side, `apolo/drive/*` (contract in
 * jupyter_apolo/server/drive.py). Drive paths are `<project>/<path in it>` below the current org;
 * the server gives each entry its storage URI, so this side never builds or parses one.
 */
import { ServerConnection } from '@jupyterlab/services';

import { ApoloResponseError, requestAPI } from '../request';
import { ITransfer } from '../tokens';

/** How a copy or upload treats an existing target (`ask`: answer 409, then ask the user). */
export type ConflictChoice = 'ask' | 'skip' | 'overwrite' | 'keep-both';

/** One storage entry. Sizes in bytes, `modified` in epoch seconds. */
export interface IDriveEntry {
  name: string;
  /** The drive path: `<project>/<path>` ('' is the org). */
  path: string;
  /** Canonical storage URI, e.g. `storage://cluster/org/project/dir`. */
  uri: string;
  /** The CLI's short form, e.g. `storage:dir` (what users type and share). */
  short: string;
  type: 'directory' | 'file' | 'symlink' | 'other';
  size: number;
  modified: number;
  /** The current user's effective permission. */
  permission: 'read' | 'write' | 'manage';
}

/** `GET apolo/drive/list`: one page of a folder (`entries` null for a file). */
export interface IDriveListing extends IDriveEntry {
  entries: IDriveEntry[] | null;
  offset: number;
  /** Where the next page starts; null when this was the last one. */
  next_offset: number | null;
}

/** `POST apolo/drive/uploads` and the `PUT` chunk answers. */
export interface IUploadSession {
  id: string;
  /** The final drive path (a free name after "keep both"). */
  path: string;
  uri: string;
  /** Bytes received so far: where the next chunk starts. */
  offset: number;
  size: number | null;
  done: boolean;
}

/** A storage volume of the workspace's flow project (`.apolo/live.yml`). */
export interface IBookmark {
  id: string;
  path: string;
  uri: string;
  short: string;
  read_only: boolean;
}

/** `GET apolo/drive/bookmarks`. */
export interface IBookmarks {
  home: { path: string; uri: string; short: string };
  bookmarks: IBookmark[];
  flow_project: string | null;
}

/** `POST apolo/drive/copy` body: `download` storage -> workspace, `upload` the reverse. */
export interface ICopyRequest {
  direction: 'download' | 'upload';
  src: string;
  dst: string;
  conflict: ConflictChoice;
}

/** What `POST apolo/drive/copy` answers: a running transfer, or a skipped one. */
export type CopyAnswer = ITransfer | { skipped: true; target: string };
// (ITransfer's own `skipped` is the list of names a transfer left alone, never `true`.)

/** Entries per page the drive asks for (more follow on "Load more"). */
export const PAGE_SIZE = 200;

/** Bytes per upload chunk (binary, no base64; the server takes up to 64 MiB). */
export const CHUNK_BYTES = 32 * 1024 * 1024;
/**
 * Chunks of one upload in flight at once: while one is written to storage the browser already
 * reads and sends the next (one at a time left the pipe idle between chunks: 0.65x `apolo cp`).
 */
export const PARALLEL_CHUNKS = 3;
/** Attempts per chunk before an upload gives up. */
const CHUNK_ATTEMPTS = 5;

/** `DriveAPI.sendFile` options. */
export interface ISendOptions {
  /** Aborting it stops every chunk (the caller then cancels the session). */
  signal?: AbortSignal;
  /** Called with the bytes acknowledged so far after each chunk. */
  progress?: (bytes: number) => void;
  /** Bytes per chunk (tests use small ones). */
  chunkBytes?: number;
}

/** The drive's calls, bound to the app's server settings. */
export class DriveAPI {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  list(path: string, offset = 0, limit = PAGE_SIZE): Promise<IDriveListing> {
    return requestAPI<IDriveListing>(
      'drive/list',
      { query: { path, offset, limit } },
      this.serverSettings
    );
  }

  newUntitled(
    path: string,
    type: 'directory' | 'file',
    ext?: string
  ): Promise<IDriveEntry> {
    return requestAPI<IDriveEntry>(
      'drive/new',
      { method: 'POST', json: { path, type, ext } },
      this.serverSettings
    );
  }

  remove(path: string): Promise<void> {
    return requestAPI<void>(
      'drive/item',
      { method: 'DELETE', query: { path } },
      this.serverSettings
    );
  }

  rename(path: string, newPath: string): Promise<IDriveEntry> {
    return requestAPI<IDriveEntry>(
      'drive/item',
      { method: 'POST', json: { path, new_path: newPath } },
      this.serverSettings
    );
  }

  startUpload(
    path: string,
    size: number | null,
    conflict: Exclude<ConflictChoice, 'skip'>
  ): Promise<IUploadSession> {
    return requestAPI<IUploadSession>(
      'drive/uploads',
      { method: 'POST', json: { path, size, conflict } },
      this.serverSettings
    );
  }

  sendChunk(
    id: string,
    offset: number,
    data: Blob | Uint8Array<ArrayBuffer>,
    final = false,
    signal?: AbortSignal
  ): Promise<IUploadSession> {
    return requestAPI<IUploadSession>(
      `drive/uploads/${id}`,
      {
        method: 'PUT',
        query: { offset, final: final ? 1 : undefined },
        body: data,
        headers: { 'Content-Type': 'application/octet-stream' },
        signal
      },
      this.serverSettings
    );
  }

  /**
   * Send `file` into upload `session` (`startUpload`) in chunks of `chunkBytes` (default
   * `CHUNK_BYTES`), `PARALLEL_CHUNKS` at a time (the server takes them in any order). A chunk that fails is sent again, up to
   * `CHUNK_ATTEMPTS` times, unless the server refused it (a 4xx other than 409, e.g. a read-only
   * folder). `progress(bytes)` gets the bytes acknowledged so far. Resolves with the answer that
   * completed the upload; rejects with the first error a chunk gave up on, or when `signal` aborts
   * (the other chunks are stopped either way).
   */
  async sendFile(
    session: IUploadSession,
    file: Blob | Uint8Array<ArrayBuffer>,
    options: ISendOptions = {}
  ): Promise<IUploadSession> {
    const { signal, progress, chunkBytes = CHUNK_BYTES } = options;
    // A Blob (a user's file) is read slice by slice as it is sent, never whole in memory.
    const size = file instanceof Blob ? file.size : file.byteLength;
    const part = (start: number, end: number) => file.slice(start, end);
    const offsets: number[] = [];
    for (let at = 0; at < size || at === 0; at += chunkBytes) {
      offsets.push(at); // an empty file is one empty chunk
    }
    const stop = new AbortController();
    const cancel = () => stop.abort();
    signal?.addEventListener('abort', cancel);
    let sent = 0;
    let completed: IUploadSession | null = null;
    const sendOne = async (offset: number) => {
      const end = Math.min(offset + chunkBytes, size);
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await this.sendChunk(
            session.id,
            offset,
            part(offset, end),
            false,
            stop.signal
          );
          sent += end - offset;
          progress?.(sent);
          completed = answer.done ? answer : completed;
          return;
        } catch (reason) {
          if (
            stop.signal.aborted ||
            attempt >= CHUNK_ATTEMPTS ||
            isRefusal(reason)
          ) {
            throw reason;
          }
          // A 409: the failed attempt is still being written server-side; let it end.
          await new Promise(resolve => setTimeout(resolve, 250 * attempt));
        }
      }
    };
    const worker = async () => {
      for (let at = offsets.shift(); at !== undefined; at = offsets.shift()) {
        await sendOne(at);
      }
    };
    try {
      await Promise.all(Array.from({ length: PARALLEL_CHUNKS }, worker));
    } catch (reason) {
      stop.abort();
      throw reason;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
    if (completed === null) {
      throw new Error(
        `The server did not complete the upload of ${session.path}.`
      );
    }
    return completed;
  }

  cancelUpload(id: string): Promise<void> {
    return requestAPI<void>(
      `drive/uploads/${id}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /** The URL of a file, or of a folder as a zip (streamed by the server). */
  downloadUrl(path: string): string {
    const url = new URL(
      'apolo/drive/download',
      new URL(this.serverSettings.baseUrl, window.location.href)
    );
    url.searchParams.set('path', path);
    return url.toString();
  }

  /** Bytes of a file. */
  async read(path: string): Promise<ArrayBuffer> {
    const response = await ServerConnection.makeRequest(
      this.downloadUrl(path),
      {},
      this.serverSettings
    );
    if (!response.ok) {
      throw await ApoloResponseError.fromResponse(
        response,
        'apolo/drive/download'
      );
    }
    return response.arrayBuffer();
  }

  copy(request: ICopyRequest): Promise<CopyAnswer> {
    return requestAPI<CopyAnswer>(
      'drive/copy',
      { method: 'POST', json: request },
      this.serverSettings
    );
  }

  transfer(id: string): Promise<ITransfer> {
    return requestAPI<ITransfer>(`transfers/${id}`, {}, this.serverSettings);
  }

  cancelTransfer(id: string): Promise<void> {
    return requestAPI<void>(
      `transfers/${id}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /** Bookmarks for the flow project at or above workspace folder `path`. */
  bookmarks(path = ''): Promise<IBookmarks> {
    return requestAPI<IBookmarks>(
      'drive/bookmarks',
      { query: { path } },
      this.serverSettings
    );
  }
}

/**
 * The server or platform refused the request: sending it again cannot help. The one 4xx worth
 * another try is a 409 carrying `offset` (the same bytes were still being written).
 */
function isRefusal(reason: unknown): boolean {
  return (
    reason instanceof ApoloResponseError &&
    reason.status >= 400 &&
    reason.status < 500 &&
    !(reason.status === 409 && reason.body?.offset !== undefined)
  );
}
