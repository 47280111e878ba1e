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

  uploadStatus(id: string): Promise<IUploadSession> {
    return requestAPI<IUploadSession>(
      `drive/uploads/${id}`,
      {},
      this.serverSettings
    );
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
