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

/**
 * Put `text` into `node`, showing `backticked` commands in the code font. Each word of a
 * command is kept whole (no line break at the hyphen of `jupyter-apolo`).
 */
function appendWithCommands(node: HTMLElement, text: string): void {
  text.split('`').forEach((part, i) => {
    if (i % 2 === 0) {
      node.append(part);
      return;
    }
    part.split(' ').forEach((word, j) => {
      node.append(j ? ' ' : '', el('code', 'jp-Apolo-command', word));
    });
  });
}

/** A notice box (`kind`: warning or error) with a headline and optional detail lines. */
function notice(kind: 'warning' | 'error', headline: string, ...details: (string | undefined)[]): HTMLElement {
  const box = el('div', `jp-Apolo-notice jp-mod-${kind}`);
  box.setAttribute('role', 'alert');
  box.appendChild(el('p', 'jp-Apolo-noticeHeadline', headline));
  details.forEach((detail, i) => {
    if (detail) {
      // The first detail says what to do; later ones are diagnostics, in a quieter colour.
      const line = el('p', i === 0 ? 'jp-Apolo-noticeText' : 'jp-Apolo-noticeDetail');
      appendWithCommands(line, detail);
      box.appendChild(line);
    }
  });
  return box;
}

/** The identity card: user, cluster/org/project (and job), then the platform's API URL and kind. */
function identity(context: IApoloContext): HTMLElement {
  const card = el('div', 'jp-Apolo-identity');
  const who = el('div', 'jp-Apolo-who');
  who.appendChild(userIcon.element({ className: 'jp-Apolo-whoIcon', tag: 'span' }));
  who.appendChild(el('span', 'jp-Apolo-user', context.user));
  card.appendChild(who);

  // Labels and placeholders as `apolo config show` prints them.
  const rows: [string, string, string][] = [
    ['Cluster', context.cluster ?? '—', 'cluster'],
    ['Org', context.org ?? '<no-org>', 'org'],
    ['Project', context.project ?? '<no-project>', 'project']
  ];
  if (context.job) {
    const { id, name } = context.job;
    rows.push(['Job', name ? `${name} (${id})` : id, 'job']);
  }
  const details = el('dl', 'jp-Apolo-details');
  for (const [label, value, field] of rows) {
    details.appendChild(el('dt', 'jp-Apolo-label', label));
    const dd = el('dd', 'jp-Apolo-value', value);
    dd.dataset.field = field;
    dd.title = value;
    details.appendChild(dd);
  }
  card.appendChild(details);
  card.appendChild(platform(context.platform));
  return card;
}

/** "API URL [Embedded platform]" over the full-width URL. */
function platform(info: IApoloContext['platform']): HTMLElement {
  const section = el('div', 'jp-Apolo-platform');
  const heading = el('div', 'jp-Apolo-platformHeading');
  heading.appendChild(el('span', 'jp-Apolo-label', 'API URL'));
  const [modifier, label, tooltip] = info.embedded
    ? ['jp-mod-embedded', 'Embedded platform', 'The Apolo-compatible platform running on this machine']
    : ['jp-mod-external', 'External platform', 'A platform reached with your Apolo credentials'];
  const badge = el('span', `jp-Apolo-platformKind ${modifier}`, label);
  badge.title = tooltip;
  heading.appendChild(badge);
  section.appendChild(heading);

  const url = el('div', 'jp-Apolo-value jp-Apolo-url');
  url.dataset.field = 'url';
  url.title = info.url;
  // A narrow sidebar may break the line between host and path, not inside the host or port.
  const origin = info.url.match(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i);
  if (origin) {
    url.append(origin[0], document.createElement('wbr'), info.url.slice(origin[0].length));
  } else {
    url.textContent = info.url;
  }
  section.appendChild(url);
  return section;
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
