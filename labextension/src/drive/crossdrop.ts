/**
 * Drag and drop between the workspace file browser and the "Apolo storage" browser.
 *
 * Lab's `DirListing` starts a Lumino drag carrying the dragged items' full paths (drive prefix
 * included: `Apolo:proj/a.csv` on storage, `a.csv` in the workspace) and handles a drop by
 * renaming, which the contents manager refuses across drives. A capture-phase listener on each
 * browser takes the drags that come from the other browser's drive before the listing sees them
 * and runs the server-side copy command instead (`apolo:copy-to-workspace` /
 * `apolo:upload-to-storage`, with their progress, conflict choice and cancel). It is a copy,
 * never a move: the drag only supports `'move'`, so that is the action reported back, but the
 * source listing does nothing when its drag ends. Drags within one drive are left to Lab.
 */
import { DirListing, FileBrowser } from '@jupyterlab/filebrowser';
import { Contents } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyJSONObject } from '@lumino/coreutils';

/** What `DirListing` puts the dragged paths under. */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';
/** Lab's own highlights: a folder item under the cursor, a listing taking a drop from the desktop. */
const ITEM_TARGET_CLASS = 'jp-mod-dropTarget';
const LISTING_TARGET_CLASS = 'jp-mod-native-drop';
const EVENTS = ['lm-dragenter', 'lm-dragleave', 'lm-dragover', 'lm-drop'];

/** The parts of a Lumino `Drag.Event` used here (`@lumino/dragdrop` is not a dependency). */
interface IDragEvent extends MouseEvent {
  readonly mimeData: {
    hasData(mime: string): boolean;
    getData(mime: string): unknown;
  };
  readonly proposedAction: string;
  dropAction: string;
}

/** One side of the drop: a file browser and how a path of the other side is copied into it. */
export interface IDropEnd {
  browser: FileBrowser;
  /** The command copying one item of the other drive into a folder of this one. */
  command: string;
  /** The command's arguments for `src` (other drive) into `dst` (this drive), both without drive prefix. */
  args(src: string, dst: string): ReadonlyJSONObject;
  /** Whether folder `dst` (no drive prefix) can take a copy now; default: always. */
  accepts?(dst: string): boolean;
}

/**
 * The dragged paths when all of them come from drive `there` and drop on drive `here` (different
 * drives), else null: then the drag is Lab's own (same drive, another drive, not a file drag).
 * `driveOf` is the contents manager's `driveName` (`''` for the workspace).
 */
export function foreignPaths(
  data: unknown,
  here: string,
  there: string,
  driveOf: (path: string) => string
): string[] | null {
  if (here === there || !Array.isArray(data) || !data.length) {
    return null;
  }
  const ok = data.every(p => typeof p === 'string' && driveOf(p) === there);
  return ok ? (data as string[]) : null;
}

/**
 * Copy what is dragged from one end's browser onto the other end's. The listeners live as long
 * as the browsers' nodes (Lab never disposes its default browser).
 */
export function connectCrossDrop(
  commands: CommandRegistry,
  contents: Contents.IManager,
  a: IDropEnd,
  b: IDropEnd
): void {
  for (const [end, other] of [
    [a, b],
    [b, a]
  ]) {
    const handler = new DropHandler(commands, contents, end, other);
    for (const type of EVENTS) {
      end.browser.node.addEventListener(type, handler, true);
    }
  }
}

/** The listener on `end.browser` for drags from `other.browser`'s drive. */
class DropHandler {
  constructor(
    readonly commands: CommandRegistry,
    readonly contents: Contents.IManager,
    readonly end: IDropEnd,
    readonly other: IDropEnd
  ) {}

  handleEvent(event: Event): void {
    const drag = event as IDragEvent;
    const paths = drag.mimeData?.hasData(CONTENTS_MIME)
      ? foreignPaths(
          drag.mimeData.getData(CONTENTS_MIME),
          this.end.browser.model.driveName,
          this.other.browser.model.driveName,
          path => this.contents.driveName(path)
        )
      : null;
    if (!paths) {
      return;
    }
    // Ours: cancelling lm-dragenter makes this browser the drop target; stopping it keeps the
    // listing and breadcrumbs from trying a rename.
    drag.preventDefault();
    drag.stopPropagation();
    if (event.type === 'lm-dragenter') {
      return;
    }
    const target = event.type === 'lm-dragleave' ? null : this._target(drag);
    this._highlight(event.type === 'lm-dragover' ? target : null);
    drag.dropAction = target ? drag.proposedAction : 'none';
    if (event.type === 'lm-drop' && target) {
      void this._copy(paths, target.path);
    }
  }

  /** The folder under the cursor (a folder item, else the one shown), or null when it takes nothing. */
  private _target(event: IDragEvent): { path: string; node: Element } | null {
    const listing = this._listing;
    const item = listing.modelForClick(event);
    const node = (event.target as Element | null)?.closest?.(
      '.jp-DirListing-item'
    );
    const folder =
      item?.type === 'directory' && node
        ? { path: item.path, node }
        : { path: this.end.browser.model.path, node: listing.node };
    const path = this.contents.localPath(folder.path);
    return (this.end.accepts?.(path) ?? true)
      ? { path, node: folder.node }
      : null;
  }

  private _highlight(target: { node: Element } | null): void {
    const listing = this._listing.node;
    listing.classList.toggle(LISTING_TARGET_CLASS, target?.node === listing);
    listing
      .querySelector(`.${ITEM_TARGET_CLASS}`)
      ?.classList.remove(ITEM_TARGET_CLASS);
    if (target && target.node !== listing) {
      target.node.classList.add(ITEM_TARGET_CLASS);
    }
  }

  /** Run the copy command for each path in turn (each may ask about a conflict). */
  private async _copy(paths: string[], dst: string): Promise<void> {
    for (const path of paths) {
      const src = this.contents.localPath(path);
      try {
        await this.commands.execute(this.end.command, this.end.args(src, dst));
      } catch {
        break; // already shown by the transfer; the next items would likely fail alike
      }
    }
  }

  private get _listing(): DirListing {
    // FileBrowser keeps its listing protected; only its node and hit test are used.
    return (this.end.browser as unknown as { listing: DirListing }).listing;
  }
}
