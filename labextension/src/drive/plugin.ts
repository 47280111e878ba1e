/**
 * The storage drive plugin: registers the `Apolo` drive with the contents manager, adds the
 * "Apolo storage" file browser panel, the commands `apolo:open-storage {path?}`,
 * `apolo:copy-to-workspace {uri?, dst?}`, `apolo:upload-to-storage {path?, dst?}`, their context
 * menu items (and "Share…", which runs `apolo:share {uri}` of the sharing plugin when present),
 * drag and drop between the workspace and storage browsers (the same copies), and a status bar
 * item for running transfers.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import {
  FileBrowser,
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  copyIcon,
  downloadIcon,
  fileUploadIcon,
  LabIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { CommandIDs, IApoloConnection, TRANSLATION_DOMAIN } from '../tokens';
import { connectCrossDrop } from './crossdrop';
// The drive is registered and the panel shown at activation: both are needed at once.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ApoloDrive, DRIVE_NAME } from './drive';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { labPath, localOf, STORAGE_PANEL_ID, StoragePanel } from './panel';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { formatBytes, TransferCenter } from './transfers';

/** A folder with a cloud: the storage panel's tab. */
export const storageIcon = new LabIcon({
  name: 'jupyter-apolo:storage',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M10 4H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2h-8l-2-2Z" opacity=".35"/>
    <path d="M16.5 17h-8a3 3 0 0 1-.4-6 4 4 0 0 1 7.6-1.2A3.6 3.6 0 0 1 16.5 17Z"/>
  </g>
</svg>`
});

const SELECTOR = '.jp-ApoloDrive .jp-DirListing-item[data-isdir]';
const LOCAL_SELECTOR = '.jp-DirListing-item[data-isdir]';

/** The drive, the panel and the storage commands. */
export const drivePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-apolo:drive',
  description:
    'Apolo storage as a JupyterLab drive: an "Apolo storage" file browser, copies to and from the workspace.',
  autoStart: true,
  requires: [IApoloConnection, IFileBrowserFactory],
  optional: [
    IDefaultFileBrowser,
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    IStatusBar
  ],
  activate: (
    app: JupyterFrontEnd,
    connection: IApoloConnection,
    factory: IFileBrowserFactory,
    localBrowser: FileBrowser | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const drive = new ApoloDrive(app.serviceManager.serverSettings);
    app.serviceManager.contents.addDrive(drive);
    const transfers = new TransferCenter(drive.api, trans);

    const browser = factory.createFileBrowser(STORAGE_PANEL_ID, {
      driveName: DRIVE_NAME,
      auto: false,
      restore: false,
      refreshInterval: 30000
    });
    browser.title.icon = storageIcon;
    const panel = new StoragePanel(
      browser,
      drive,
      connection,
      transfers,
      trans,
      localBrowser
    );
    app.shell.add(browser, 'left', { rank: 860 });
    restorer?.add(browser, STORAGE_PANEL_ID);

    /** Selected storage entries (drive paths), or the `uri`/`path` argument. */
    const storageTargets = (value: unknown): string[] => {
      if (typeof value === 'string' && value) {
        return [value];
      }
      return Array.from(browser.selectedItems()).map(item =>
        localOf(item.path)
      );
    };
    const localTargets = (value: unknown): string[] => {
      if (typeof value === 'string') {
        return [value];
      }
      return localBrowser
        ? Array.from(localBrowser.selectedItems()).map(item => item.path)
        : [];
    };

    app.commands.addCommand(CommandIDs.openStorage, {
      label: trans.__('Open Apolo Storage'),
      caption: trans.__(
        'Show platform storage; with {path} (a storage: URI or project/path) open that folder or file'
      ),
      icon: args => (args.toolbar ? storageIcon : undefined),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description:
                'storage:dir, storage:/project/dir, storage://cluster/org/project/dir or project/dir'
            }
          }
        }
      },
      execute: async args => {
        app.shell.activateById(browser.id);
        const path = args.path as string | undefined;
        if (!path) {
          return;
        }
        panel.markNavigated();
        try {
          const listing = await drive.api.list(path, 0, 1);
          if (listing.entries !== null) {
            await browser.model.cd('/' + listing.path);
          } else {
            const parent = listing.path.split('/').slice(0, -1).join('/');
            await browser.model.cd('/' + parent);
            await app.commands.execute('docmanager:open', {
              path: labPath(listing.path)
            });
          }
        } catch (reason) {
          Notification.error(
            trans.__('Cannot open %1 on storage: %2', path, String(reason)),
            { autoClose: false }
          );
        }
      }
    });

    app.commands.addCommand(CommandIDs.copyToWorkspace, {
      label: trans.__('Copy to Workspace'),
      caption: trans.__(
        'Copy from storage into the workspace, server-side (the bytes never pass through the browser)'
      ),
      icon: args => (args.toolbar ? copyIcon : undefined),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            uri: { type: 'string', description: 'storage URI or project/path' },
            dst: {
              type: 'string',
              description:
                'workspace folder (default: the one the file browser shows)'
            }
          }
        }
      },
      isEnabled: args =>
        typeof args.uri === 'string' ||
        storageTargets(undefined).some(path => path.includes('/')),
      execute: async args => {
        const dst =
          (args.dst as string | undefined) ?? localBrowser?.model.path ?? '';
        for (const path of storageTargets(args.uri)) {
          // The CLI's form in messages ("storage:dir"); the server accepts it like a drive path.
          const src = drive.entry(path)?.short ?? path;
          await transfers.copy({ direction: 'download', src, dst });
        }
        await localBrowser?.model.refresh();
      }
    });

    app.commands.addCommand(CommandIDs.uploadToStorage, {
      label: trans.__('Upload to Apolo Storage'),
      caption: trans.__(
        'Copy from the workspace to platform storage, server-side'
      ),
      icon: args => (args.toolbar ? fileUploadIcon : undefined),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: { type: 'string', description: 'workspace path' },
            dst: {
              type: 'string',
              description:
                'storage folder (URI or project/path; default: the one the storage panel shows)'
            }
          }
        }
      },
      isVisible: () =>
        factory.tracker.currentWidget === null ||
        factory.tracker.currentWidget.model.driveName === '',
      execute: async args => {
        let dst = (args.dst as string | undefined) ?? panel.path;
        if (!dst) {
          // The top of the drive lists projects: uploads go to your own project.
          await panel.goHome();
          dst = panel.path;
        }
        for (const src of localTargets(args.path)) {
          await transfers.copy({ direction: 'upload', src, dst });
        }
        await browser.model.refresh();
      }
    });

    app.commands.addCommand('apolo:copy-storage-uri', {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Copy Storage URI'),
      caption: trans.__('Copy the storage: URI, as the apolo CLI accepts it'),
      icon: copyIcon,
      execute: () => {
        const uris = storageTargets(undefined).map(
          path => drive.entry(path)?.short ?? path
        );
        Clipboard.copyToSystem(uris.join('\n'));
      }
    });

    app.commands.addCommand('apolo:download-storage-zip', {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Download as Zip'),
      caption: trans.__('Download the folder as a zip archive'),
      icon: downloadIcon,
      execute: () => {
        for (const path of storageTargets(undefined)) {
          const link = document.createElement('a');
          link.href = drive.api.downloadUrl(path);
          link.download = '';
          document.body.appendChild(link);
          link.click();
          link.remove();
        }
      }
    });

    app.commands.addCommand('apolo:share-storage', {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Share…'),
      caption: trans.__('Share this storage path with a teammate'),
      execute: async () => {
        const [path] = storageTargets(undefined);
        const uri = (path && drive.entry(path)?.short) ?? path;
        if (!app.commands.hasCommand(CommandIDs.share)) {
          Notification.warning(
            trans.__(
              'Sharing is unavailable in this JupyterLab: use `apolo share %1 USER read` in a terminal.',
              uri
            ),
            { autoClose: 8000 }
          );
          return;
        }
        await app.commands.execute(CommandIDs.share, { uri });
      }
    });

    app.contextMenu.addItem({
      command: CommandIDs.copyToWorkspace,
      selector: SELECTOR,
      rank: 1
    });
    app.contextMenu.addItem({
      command: 'apolo:download-storage-zip',
      selector: '.jp-ApoloDrive .jp-DirListing-item[data-isdir="true"]',
      rank: 2
    });
    app.contextMenu.addItem({
      command: 'apolo:copy-storage-uri',
      selector: SELECTOR,
      rank: 3
    });
    app.contextMenu.addItem({
      command: 'apolo:share-storage',
      selector: SELECTOR,
      rank: 4
    });
    app.contextMenu.addItem({
      command: CommandIDs.uploadToStorage,
      selector: LOCAL_SELECTOR,
      rank: 5
    });

    if (localBrowser) {
      // Dragging between the two browsers copies server-side (see crossdrop.ts).
      connectCrossDrop(
        app.commands,
        app.serviceManager.contents,
        {
          browser: localBrowser,
          command: CommandIDs.copyToWorkspace,
          args: (uri, dst) => ({ uri, dst })
        },
        {
          browser,
          command: CommandIDs.uploadToStorage,
          args: (path, dst) => ({ path, dst }),
          // The top of the drive lists projects: a copy goes into one of them, not beside them.
          accepts: dst => dst !== '' && connection.state.kind === 'connected'
        }
      );
    }

    for (const command of [
      CommandIDs.openStorage,
      CommandIDs.copyToWorkspace,
      CommandIDs.uploadToStorage
    ]) {
      palette?.addItem({ command, category: trans.__('Apolo') });
    }

    if (statusBar) {
      const item = new Widget();
      item.addClass('jp-ApoloDrive-status');
      transfers.changed.connect((_, running) => {
        if (!running.length) {
          item.node.textContent = '';
          return;
        }
        const done = running.reduce((sum, a) => sum + a.done, 0);
        const total = running.every(a => a.total !== null)
          ? running.reduce((sum, a) => sum + (a.total ?? 0), 0)
          : null;
        item.node.textContent = trans.__(
          'Apolo: %1 running, %2',
          running.length,
          total ? `${Math.floor((100 * done) / total)}%` : formatBytes(done)
        );
        item.node.title = running.map(a => a.label).join('\n');
      });
      statusBar.registerStatusItem('jupyter-apolo:transfers', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => transfers.running.length > 0,
        activeStateChanged: transfers.activeChanged
      });
    }
  }
};
