/**
 * `ApoloDrive`: platform storage as a JupyterLab `Contents.IDrive` named `Apolo`, so the standard
 * file browser, document manager and commands work on it (paths `Apolo:<project>/<path>`).
 *
 * Big folders are paged: a folder shows its first `PAGE_SIZE` entries (platform order) and
 * `loadMore(path)` extends what the next `get` returns; nothing is listed recursively. Saves go
 * through the server's chunked upload into a part file renamed when complete, so a failed save
 * never leaves a half-written notebook on storage.
 */
import { ServerConnection, Contents } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { DriveAPI, IDriveEntry, IDriveListing, PAGE_SIZE } from './api';

/** The drive name: paths in Lab are `Apolo:<project>/<path>`. */
export const DRIVE_NAME = 'Apolo';

/** What the drive knows about a folder it listed last. */
export interface IFolderState {
  path: string;
  /** Entries shown. */
  shown: number;
  /** More entries follow on the platform. */
  more: boolean;
  permission: IDriveEntry['permission'];
}

/** Contents.IModel of an entry (`content` null). */
export function entryModel(entry: IDriveEntry): Contents.IModel {
  const isNotebook = entry.type === 'file' && entry.name.endsWith('.ipynb');
  const time = new Date(entry.modified * 1000).toISOString();
  return {
    name: entry.name,
    path: entry.path,
    type:
      entry.type === 'directory'
        ? 'directory'
        : isNotebook
          ? 'notebook'
          : 'file',
    writable: entry.permission !== 'read',
    created: time,
    last_modified: time,
    mimetype: '',
    content: null,
    format: null,
    size: entry.type === 'directory' ? undefined : entry.size
  };
}

/** `Contents.IDrive` over `apolo/drive/*`. */
export class ApoloDrive implements Contents.IDrive {
  constructor(serverSettings: ServerConnection.ISettings) {
    this.serverSettings = serverSettings;
    this.api = new DriveAPI(serverSettings);
  }

  readonly name = DRIVE_NAME;
  readonly serverSettings: ServerConnection.ISettings;
  readonly api: DriveAPI;

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  /** Emitted after each folder listing (the panel shows "N more", read-only marks). */
  get folderListed(): ISignal<this, IFolderState> {
    return this._folderListed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** The last listing of `path`, if any. */
  folder(path: string): IFolderState | undefined {
    return this._folders.get(normalize(path));
  }

  /** The entry of `path` from the last listing of its folder (URI, permission), if known. */
  entry(path: string): IDriveEntry | undefined {
    return this._entries.get(normalize(path));
  }

  /** Show `PAGE_SIZE` more entries of `path` on the next `get`. */
  loadMore(path: string): void {
    path = normalize(path);
    this._wanted.set(path, (this._wanted.get(path) ?? PAGE_SIZE) + PAGE_SIZE);
  }

  async get(
    localPath: string,
    options?: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const path = normalize(localPath);
    const wanted = this._wanted.get(path) ?? PAGE_SIZE;
    const first = await this.api.list(path, 0, Math.min(wanted, 5000));
    if (first.entries === null) {
      this._entries.set(path, first);
      return options?.content === false
        ? entryModel(first)
        : this._fileModel(first, options);
    }
    const entries = [...first.entries];
    let next = first.next_offset;
    while (next !== null && entries.length < wanted) {
      const page: IDriveListing = await this.api.list(
        path,
        next,
        Math.min(wanted - entries.length, 5000)
      );
      entries.push(...(page.entries ?? []));
      next = page.next_offset;
    }
    for (const entry of entries) {
      this._entries.set(entry.path, entry);
    }
    this._entries.set(path, first);
    const state: IFolderState = {
      path,
      shown: entries.length,
      more: next !== null,
      permission: first.permission
    };
    this._folders.set(path, state);
    this._folderListed.emit(state);
    return {
      ...entryModel(first),
      name: first.name,
      path,
      type: 'directory',
      format: 'json',
      content: options?.content === false ? null : entries.map(entryModel)
    };
  }

  private async _fileModel(
    entry: IDriveEntry,
    options?: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const bytes = await this.api.read(entry.path);
    const model = entryModel(entry);
    const wantsNotebook =
      options?.type === 'notebook' ||
      (options?.type === undefined && model.type === 'notebook');
    if (wantsNotebook) {
      const text = new TextDecoder().decode(bytes);
      return {
        ...model,
        type: 'notebook',
        format: 'json',
        content: JSON.parse(text),
        size: bytes.byteLength
      };
    }
    if (options?.format !== 'base64') {
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        return {
          ...model,
          type: 'file',
          format: 'text',
          mimetype: 'text/plain',
          content: text,
          size: bytes.byteLength
        };
      } catch {
        if (options?.format === 'text') {
          throw new Error(
            `${entry.path} is not UTF-8 text: download it or open it with another viewer.`
          );
        }
      }
    }
    return {
      ...model,
      type: 'file',
      format: 'base64',
      mimetype: 'application/octet-stream',
      content: toBase64(bytes),
      size: bytes.byteLength
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return this.api.downloadUrl(normalize(localPath));
  }

  async newUntitled(
    options: Contents.ICreateOptions = {}
  ): Promise<Contents.IModel> {
    const type = options.type === 'directory' ? 'directory' : 'file';
    const ext =
      options.type === 'notebook' ? '.ipynb' : (options.ext ?? undefined);
    const entry = await this.api.newUntitled(
      normalize(options.path ?? ''),
      type,
      ext
    );
    let model = entryModel(entry);
    if (options.type === 'notebook') {
      // An empty file is not a notebook: write the minimal one Jupyter's own "new" writes.
      model = await this.save(entry.path, {
        type: 'notebook',
        format: 'json',
        content: EMPTY_NOTEBOOK
      });
    }
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  async delete(localPath: string): Promise<void> {
    const path = normalize(localPath);
    await this.api.remove(path);
    this._entries.delete(path);
    this._fileChanged.emit({
      type: 'delete',
      oldValue: { path },
      newValue: null
    });
  }

  async rename(
    oldLocalPath: string,
    newLocalPath: string
  ): Promise<Contents.IModel> {
    const entry = await this.api.rename(
      normalize(oldLocalPath),
      normalize(newLocalPath)
    );
    const model = entryModel(entry);
    this._fileChanged.emit({
      type: 'rename',
      oldValue: { path: normalize(oldLocalPath) },
      newValue: model
    });
    return model;
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> = {}
  ): Promise<Contents.IModel> {
    const path = normalize(localPath);
    const chunk = (options as { chunk?: number }).chunk;
    const data = toBytes(options);
    if (chunk !== undefined) {
      await this._saveChunk(path, chunk, data);
    } else {
      const session = await this.api.startUpload(
        path,
        data.byteLength,
        'overwrite'
      );
      await this.api.sendFile(session, data);
    }
    if (chunk !== undefined && chunk !== -1) {
      return { ...(await this.get(parentOf(path), { content: false })), path };
    }
    const model = await this.get(path, { content: false });
    this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
    return model;
  }

  /** The file browser's own chunked upload (1 MiB base64 chunks numbered 1, 2, ..., -1 last). */
  private async _saveChunk(
    path: string,
    chunk: number,
    data: Uint8Array<ArrayBuffer>
  ): Promise<void> {
    let session = this._chunked.get(path);
    if (chunk === 1 || session === undefined) {
      session = await this.api.startUpload(path, null, 'overwrite');
      this._chunked.set(path, session);
    }
    const answer = await this.api.sendChunk(
      session.id,
      session.offset,
      data,
      chunk === -1
    );
    session.offset = answer.offset;
    if (chunk === -1) {
      this._chunked.delete(path);
    }
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    throw new Error(
      `Copying ${localPath} within Apolo storage is not available from the file browser: ` +
        `use "Copy to Workspace", or \`apolo cp\` in a terminal.`
    );
  }

  async createCheckpoint(
    localPath: string
  ): Promise<Contents.ICheckpointModel> {
    // Storage keeps no checkpoints: answer one for "now" so the document context is satisfied.
    return { id: 'storage', last_modified: new Date().toISOString() };
  }

  async listCheckpoints(
    localPath: string
  ): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(
    localPath: string,
    checkpointID: string
  ): Promise<void> {
    throw new Error('Apolo storage keeps no checkpoints to revert to.');
  }

  async deleteCheckpoint(
    localPath: string,
    checkpointID: string
  ): Promise<void> {
    return;
  }

  private _isDisposed = false;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _folderListed = new Signal<this, IFolderState>(this);
  private _wanted = new Map<string, number>();
  private _folders = new Map<string, IFolderState>();
  private _entries = new Map<string, IDriveEntry>();
  private _chunked = new Map<string, { id: string; offset: number }>();
}

const EMPTY_NOTEBOOK = {
  cells: [],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5
};

/** `a//b/` -> `a/b` (the drive's own paths have no leading or trailing slash). */
export function normalize(path: string): string {
  return path
    .split('/')
    .filter(part => part !== '')
    .join('/');
}

function parentOf(path: string): string {
  const parts = normalize(path).split('/');
  parts.pop();
  return parts.join('/');
}

/** The bytes a save sends: notebooks as nbformat JSON (indent 1, as Jupyter writes them). */
export function toBytes(
  options: Partial<Contents.IModel>
): Uint8Array<ArrayBuffer> {
  const content = options.content;
  if (options.type === 'notebook' || options.format === 'json') {
    return new TextEncoder().encode(JSON.stringify(content, null, 1) + '\n');
  }
  if (options.format === 'base64') {
    const binary = atob(String(content ?? ''));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }
  return new TextEncoder().encode(String(content ?? ''));
}

function toBase64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}
