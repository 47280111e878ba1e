/**
 * The "Apolo storage" side panel: a standard Lab `FileBrowser` (from `IFileBrowserFactory`) on the
 * `Apolo` drive, plus what storage needs around it: the connection state (loading, not
 * configured, error) instead of an empty list, bookmarks (home project, the flow project's
 * volumes), a read-only mark, an empty-folder hint and a "Load more" row for big folders.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { FileBrowser } from '@jupyterlab/filebrowser';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  folderIcon,
  homeIcon,
  newFolderIcon,
  refreshIcon,
  ToolbarButton,
  fileUploadIcon
} from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { ConnectionState, IApoloConnection } from '../tokens';
import { IBookmarks, PAGE_SIZE } from './api';
import { ApoloDrive, DRIVE_NAME, IFolderState, normalize } from './drive';
import { TransferCenter } from './transfers';

/** The panel's widget id (sidebar tab `data-id`). */
export const STORAGE_PANEL_ID = 'apolo-storage';

/** Lab path of a drive path. */
export function labPath(path: string): string {
  return `${DRIVE_NAME}:${path}`;
}

/** The protected parts of `FileBrowser` the panel places its widgets around. */
interface IBrowserParts {
  mainPanel: Panel;
  listing: Widget;
  crumbs: Widget;
}

/** The drive path of a Lab path (`Apolo:a/b` -> `a/b`). */
export function localOf(path: string): string {
  const prefix = `${DRIVE_NAME}:`;
  return normalize(path.startsWith(prefix) ? path.slice(prefix.length) : path);
}

/** Wraps `browser` (created by the factory on the Apolo drive) with storage's extras. */
export class StoragePanel {
  constructor(
    readonly browser: FileBrowser,
    readonly drive: ApoloDrive,
    readonly connection: IApoloConnection,
    readonly transfers: TransferCenter,
    readonly trans: TranslationBundle,
    readonly localBrowser: FileBrowser | null = null
  ) {
    // FileBrowser keeps its parts protected; the panel only adds widgets around them and
    // shows/hides them (no behaviour is changed).
    this._parts = browser as unknown as IBrowserParts;
    browser.addClass('jp-ApoloDrive');
    browser.title.caption = trans.__('Apolo storage');

    this.bookmarksBar = new Widget();
    this.bookmarksBar.addClass('jp-ApoloDrive-bookmarks');
    this.notice = new Widget();
    this.notice.addClass('jp-ApoloDrive-notice');
    this.footer = new Widget();
    this.footer.addClass('jp-ApoloDrive-footer');
    this._parts.mainPanel.insertWidget(0, this.bookmarksBar);
    this._parts.mainPanel.insertWidget(2, this.notice);
    this._parts.mainPanel.addWidget(this.footer);

    // Uploads from the toolbar and files dropped from the desktop go through our chunked,
    // resumable, cancellable uploader instead of the browser model's base64 one.
    browser.model.upload = async (file: File, path?: string) => {
      const dir = localOf(path ?? browser.model.path);
      const done = await this.transfers.upload(file, dir);
      await browser.model.refresh();
      return done
        ? await drive.get(done, { content: false })
        : Promise.reject(new Error(trans.__('Upload skipped')));
    };

    const heading = new Widget({ node: document.createElement('h2') });
    heading.addClass('jp-ApoloDrive-heading');
    heading.node.textContent = trans.__('Apolo storage');
    // Two file browsers look alike: the header says which one this is (as the Apolo sidebar's).
    browser.header.addWidget(heading);
    browser.toolbar.addItem(
      'home',
      new ToolbarButton({
        icon: homeIcon,
        tooltip: trans.__('Your project on storage'),
        onClick: () => void this.goHome()
      })
    );
    browser.toolbar.addItem(
      'new-folder',
      new ToolbarButton({
        icon: newFolderIcon,
        tooltip: trans.__('New Folder'),
        onClick: () => void browser.createNewDirectory()
      })
    );
    browser.toolbar.addItem(
      'upload',
      new ToolbarButton({
        icon: fileUploadIcon,
        tooltip: trans.__('Upload Files to Storage'),
        onClick: () => this.pickFiles()
      })
    );
    browser.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh'),
        onClick: () => void browser.model.refresh()
      })
    );

    drive.folderListed.connect((_, state) => this._showFolder(state));
    // Lab's browser model misses changes on a drive other than the default one (it matches
    // `Apolo:` + the already prefixed path against the folder shown), so a move by drag and drop
    // inside storage would show only at the next poll: refresh when a change touches this folder.
    drive.fileChanged.connect((_, { oldValue, newValue }) => {
      const touched = [oldValue?.path, newValue?.path].some(
        path => typeof path === 'string' && PathExt.dirname(path) === this.path
      );
      if (touched) {
        void browser.model.refresh();
      }
    });
    browser.model.pathChanged.connect(() => this._showFolder());
    connection.stateChanged.connect((_, state) => this._onConnection(state));
    // Bookmarks follow the flow project the workspace file browser is in.
    localBrowser?.model.pathChanged.connect(() => void this.refreshBookmarks());
    this._onConnection(connection.state);
  }

  readonly bookmarksBar: Widget;
  readonly notice: Widget;
  readonly footer: Widget;

  /** The drive path shown now. */
  get path(): string {
    return localOf(this.browser.model.path);
  }

  /** Go to the current project's folder. */
  async goHome(): Promise<void> {
    const home = this._bookmarks?.home.path;
    await this.browser.model.cd('/' + (home ?? ''));
  }

  /** Open a file picker and upload the chosen files into the folder shown. */
  pickFiles(): void {
    const input = document.createElement('input');
    input.type = 'file';
    input.multiple = true;
    input.onchange = async () => {
      for (const file of Array.from(input.files ?? [])) {
        try {
          await this.transfers.upload(file, this.path);
        } catch {
          break; // already shown; the next files would fail the same way
        }
      }
      await this.browser.model.refresh();
    };
    input.click();
  }

  private _onConnection(state: ConnectionState): void {
    const trans = this.trans;
    const listing = this._parts.listing;
    if (state.kind === 'connected') {
      this._setNotice(null);
      listing.show();
      this._parts.crumbs.show();
      this.browser.toolbar.show();
      if (!this._started) {
        this._started = true;
        void this._start();
      }
      return;
    }
    listing.hide();
    this._parts.crumbs.hide();
    this.browser.toolbar.hide(); // nothing to act on until connected
    this.footer.hide();
    if (state.kind === 'loading') {
      this._setNotice(trans.__('Connecting to Apolo…'), 'loading');
    } else if (state.kind === 'unconfigured') {
      this._setNotice(
        `${state.error}${state.fix ? ' ' + state.fix : ''}`,
        'error',
        trans.__('Not connected to Apolo')
      );
    } else if (state.kind === 'missing-extension') {
      this._setNotice(
        trans.__(
          'The jupyter-apolo server extension is not running: install it in the Jupyter server environment and restart.'
        ),
        'error',
        trans.__('Server extension missing')
      );
    } else {
      this._setNotice(state.error, 'error', trans.__('Cannot reach Apolo'));
    }
  }

  /** Reload the bookmarks (home project, flow volumes) for the workspace folder shown. */
  async refreshBookmarks(): Promise<void> {
    if (this.connection.state.kind !== 'connected') {
      return;
    }
    try {
      this._bookmarks = await this.drive.api.bookmarks(
        this.localBrowser?.model.path ?? ''
      );
    } catch {
      this._bookmarks = null;
    }
    this._renderBookmarks();
  }

  private async _start(): Promise<void> {
    await this.refreshBookmarks();
    if (!this._navigated) {
      await this.goHome();
    }
  }

  /** Called by `apolo:open-storage` so the start does not jump back home. */
  markNavigated(): void {
    this._navigated = true;
  }

  private _renderBookmarks(): void {
    const node = this.bookmarksBar.node;
    node.replaceChildren();
    const marks = this._bookmarks?.bookmarks ?? [];
    if (!marks.length) {
      this.bookmarksBar.hide();
      return;
    }
    this.bookmarksBar.show();
    const label = document.createElement('span');
    label.className = 'jp-ApoloDrive-bookmarksLabel';
    label.textContent = this.trans.__('Flow volumes:');
    node.appendChild(label);
    for (const mark of marks) {
      const button = document.createElement('button');
      button.className = 'jp-ApoloDrive-bookmark';
      button.title = `${mark.short}${mark.read_only ? ' (read-only)' : ''}`;
      folderIcon.element({ container: button, tag: 'span', width: '14px' });
      const text = document.createElement('span');
      text.textContent = mark.id;
      button.appendChild(text);
      button.onclick = () => {
        void this.browser.model
          .cd('/' + mark.path)
          .catch(() =>
            this._setNotice(
              this.trans.__(
                '%1 (%2) does not exist on storage yet.',
                mark.id,
                mark.short
              ),
              'info'
            )
          );
      };
      node.appendChild(button);
    }
  }

  private _showFolder(state?: IFolderState): void {
    const path = this.path;
    state = state ?? this.drive.folder(path);
    if (!state || state.path !== path) {
      return;
    }
    const trans = this.trans;
    if (this.connection.state.kind !== 'connected') {
      return;
    }
    if (state.permission === 'read' && path.includes('/')) {
      this._setNotice(
        trans.__(
          'Read-only: you can open and copy from this folder; changes need write access.'
        ),
        'readonly'
      );
    } else if (state.shown === 0) {
      this._setNotice(
        trans.__(
          'This folder is empty. Upload files, or drop them here from your computer.'
        ),
        'empty'
      );
    } else {
      this._setNotice(null);
    }
    const footer = this.footer.node;
    footer.replaceChildren();
    if (!state.more) {
      this.footer.hide();
      return;
    }
    this.footer.show();
    const text = document.createElement('span');
    text.textContent = trans.__(
      'Showing the first %1 entries (unsorted beyond these).',
      state.shown
    );
    const button = document.createElement('button');
    button.className = 'jp-mod-styled jp-ApoloDrive-more';
    button.textContent = trans.__('Load %1 more', PAGE_SIZE);
    button.onclick = () => {
      this.drive.loadMore(path);
      button.disabled = true;
      void this.browser.model.refresh();
    };
    footer.append(text, button);
  }

  private _setNotice(
    text: string | null,
    kind: 'loading' | 'error' | 'info' | 'readonly' | 'empty' = 'info',
    title?: string
  ): void {
    const node = this.notice.node;
    node.replaceChildren();
    node.dataset.kind = kind;
    if (text === null) {
      this.notice.hide();
      return;
    }
    if (title) {
      const strong = document.createElement('strong');
      strong.textContent = title;
      node.appendChild(strong);
    }
    const p = document.createElement('div');
    p.textContent = text;
    node.appendChild(p);
    this.notice.show();
  }

  private _parts: IBrowserParts;
  private _bookmarks: IBookmarks | null = null;
  private _started = false;
  private _navigated = false;
}
