/**
 * The "Apolo" left-sidebar panel: who the server extension is connected to the platform as.
 */
import { SidePanel, Toolbar, userIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { Connection, IApoloContext, loadConnection, MISSING_EXTENSION } from './api';
import { apoloIcon } from './icon';

/** Widget id of the sidebar (also the layout-restorer key). */
export const SIDEBAR_ID = 'jupyter-apolo:sidebar';

/** Create an element with a class and optional text. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A notice box (`kind`: warning or error) with a headline and optional detail lines. */
function notice(kind: 'warning' | 'error', headline: string, ...details: (string | undefined)[]): HTMLElement {
  const box = el('div', `jp-Apolo-notice jp-mod-${kind}`);
  box.setAttribute('role', 'alert');
  box.appendChild(el('p', 'jp-Apolo-noticeHeadline', headline));
  details.forEach((detail, i) => {
    if (detail) {
      // The first detail says what to do; later ones are diagnostics, in a quieter colour.
      box.appendChild(el('p', i === 0 ? 'jp-Apolo-noticeText' : 'jp-Apolo-noticeDetail', detail));
    }
  });
  return box;
}

/** Put `url` into `node`, letting the line break only after a `/` (not inside the port). */
function breakAfterSlashes(node: HTMLElement, url: string): void {
  for (const part of url.split(/(?<=\/)/)) {
    node.append(part, document.createElement('wbr'));
  }
}

/** The identity card: user, cluster/org/project, platform URL and kind, job. */
function identity(context: IApoloContext): HTMLElement {
  const card = el('div', 'jp-Apolo-identity');
  const who = el('div', 'jp-Apolo-who');
  who.appendChild(userIcon.element({ className: 'jp-Apolo-whoIcon', tag: 'span' }));
  who.appendChild(el('span', 'jp-Apolo-user', context.user));
  card.appendChild(who);

  // Labels as `apolo config show` names them.
  const rows: [string, string | null, string?][] = [
    ['Cluster', context.cluster, 'cluster'],
    ['Org', context.org ?? '<no-org>', 'org'],
    ['Project', context.project ?? '<no-project>', 'project'],
    ['API URL', context.platform.url, 'url']
  ];
  if (context.job) {
    rows.push(['Job', context.job.name ? `${context.job.name} (${context.job.id})` : context.job.id, 'job']);
  }
  const details = el('dl', 'jp-Apolo-details');
  for (const [label, value, field] of rows) {
    details.appendChild(el('dt', 'jp-Apolo-label', label));
    const dd = el('dd', 'jp-Apolo-value');
    dd.dataset.field = field;
    if (field === 'url' && value) {
      breakAfterSlashes(dd, value);
    } else {
      dd.textContent = value ?? '—';
    }
    dd.title = value ?? '';
    details.appendChild(dd);
  }
  card.appendChild(details);

  const kind = context.platform.embedded
    ? ['jp-mod-embedded', 'Embedded platform', 'The Apolo-compatible platform running on this machine']
    : ['jp-mod-external', 'External platform', 'A platform reached with your Apolo credentials'];
  const badge = el('div', `jp-Apolo-platformKind ${kind[0]}`, kind[1]);
  badge.title = kind[2];
  card.appendChild(badge);
  return card;
}

/** Render one connection state into DOM. */
function renderConnection(connection: Connection | null): HTMLElement {
  if (connection === null) {
    return el('p', 'jp-Apolo-loading', 'Connecting to Apolo…');
  }
  switch (connection.kind) {
    case 'connected':
      return identity(connection.context);
    case 'missing-extension':
      return notice('warning', 'Apolo is not available', MISSING_EXTENSION, connection.detail);
    case 'unconfigured':
      return notice('warning', 'Not connected to an Apolo platform', connection.error, connection.fix);
    case 'error':
      return notice('error', 'Cannot load the Apolo connection', connection.error);
  }
}

/**
 * The sidebar. `refresh()` re-asks the server extension; the latest call wins when
 * refreshes overlap.
 */
export class ApoloSidebar extends SidePanel {
  constructor() {
    super({ content: new Panel() });
    this.id = SIDEBAR_ID;
    this.addClass('jp-Apolo-sidebar');
    this.title.icon = apoloIcon;
    this.title.caption = 'Apolo';

    // Title and buttons share one header row, as in JupyterLab's own side panels.
    const heading = new Widget({ node: el('h2', 'jp-Apolo-heading jp-text-truncated', 'Apolo') });
    this.header.addWidget(heading);
    this.buttons = new Toolbar();
    this.buttons.addClass('jp-Apolo-buttons');
    this.header.addWidget(this.buttons);
    this._body = new Widget({ node: el('div', 'jp-Apolo-body') });
    this.content.addWidget(this._body);
    this._show(null);
  }

  /** Buttons at the right of the header. */
  readonly buttons: Toolbar;

  /** The state last shown (null while loading). */
  get connection(): Connection | null {
    return this._connection;
  }

  /** Reload `apolo/version` and `apolo/context` and show the result. */
  async refresh(): Promise<Connection> {
    const ticket = ++this._ticket;
    this._show(null);
    const connection = await loadConnection();
    if (ticket === this._ticket) {
      this._show(connection);
    }
    return connection;
  }

  private _show(connection: Connection | null): void {
    this._connection = connection;
    const node = this._body.node;
    node.dataset.state = connection?.kind ?? 'loading';
    node.replaceChildren(renderConnection(connection));
  }

  private _body: Widget;
  private _connection: Connection | null = null;
  private _ticket = 0;
}
