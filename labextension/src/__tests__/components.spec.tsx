import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ConnectionPanel } from '../components';
import { ApoloConnection } from '../connection';
import { ConnectionState } from '../tokens';
import { waitFor } from './fakeserver';

/** A connection whose refresh answers `next` (set by each test). */
function connectionAnswering(): {
  connection: ApoloConnection;
  answer: (state: ConnectionState) => Promise<ConnectionState>;
} {
  let next: ConnectionState = { kind: 'loading' };
  const connection = new ApoloConnection({ load: async () => next });
  return {
    connection,
    answer: state => {
      next = state;
      return connection.refresh();
    }
  };
}

const trans = nullTranslator.load('jupyter_apolo');

describe('ConnectionPanel', () => {
  let panel: ConnectionPanel;
  afterEach(() => panel.dispose());

  function mount(bundle: TranslationBundle = trans) {
    const { connection, answer } = connectionAnswering();
    panel = new ConnectionPanel(connection, bundle);
    Widget.attach(panel, document.body);
    return answer;
  }

  const body = () => panel.node.querySelector('.jp-Apolo-body') as HTMLElement;

  it('shows loading, then who the user is, following the connection', async () => {
    const answer = mount();
    await waitFor(() => expect(body().dataset.state).toBe('loading'));
    expect(body().textContent).toContain('Connecting to Apolo');

    await answer({
      kind: 'connected',
      version: { version: '0.1.0', api: 1 },
      context: {
        user: 'a-very-long-user-name-that-does-not-fit-the-sidebar',
        cluster: 'default',
        org: null,
        project: 'awesome-team',
        platform: { url: 'http://127.0.0.1:8780/api/v1', embedded: true },
        job: { id: 'job-1234', name: 'notebook' }
      }
    });
    await waitFor(() => expect(body().dataset.state).toBe('connected'));
    const user = body().querySelector('.jp-Apolo-user') as HTMLElement;
    expect(user.textContent).toBe(
      'a-very-long-user-name-that-does-not-fit-the-sidebar'
    );
    expect(user.title).toBe(user.textContent); // truncated by CSS, whole on hover
    const field = (name: string) =>
      body().querySelector(`.jp-Apolo-value[data-field="${name}"]`)!
        .textContent;
    expect(field('cluster')).toBe('default');
    expect(field('org')).toBe('<no-org>'); // as `apolo config show` prints it
    expect(field('project')).toBe('awesome-team');
    expect(field('job')).toBe('notebook (job-1234)');
    expect(field('url')).toBe('http://127.0.0.1:8780/api/v1');
    // The line may break between host and path only.
    const url = body().querySelector('.jp-Apolo-url')!;
    expect(url.innerHTML).toBe('http://127.0.0.1:8780<wbr>/api/v1');
    expect(body().querySelector('.jp-Apolo-platformKind')!.textContent).toBe(
      'Embedded platform'
    );
  });

  it('shows the fix in code font when the server extension is missing', async () => {
    const answer = mount();
    await answer({ kind: 'missing-extension', server: null });
    await waitFor(() => expect(body().dataset.state).toBe('missing-extension'));
    const notice = body().querySelector('.jp-Apolo-notice')!;
    expect(notice.getAttribute('role')).toBe('alert');
    expect(notice.textContent).toContain(
      'server extension missing or outdated: pip install jupyter-apolo and restart JupyterLab'
    );
    expect(
      [...notice.querySelectorAll('code')].map(c => c.textContent)
    ).toEqual(['pip', 'install', 'jupyter-apolo']);
    expect(notice.textContent).toContain('GET apolo/version answered 404');
  });

  it("shows the server's error and fix when there are no credentials", async () => {
    const answer = mount();
    await answer({
      kind: 'unconfigured',
      error: 'Run `apolo login`.',
      fix: 'Then refresh.'
    });
    await waitFor(() => expect(body().dataset.state).toBe('unconfigured'));
    const texts = [...body().querySelectorAll('.jp-Apolo-notice p')].map(
      p => p.textContent
    );
    expect(texts).toEqual([
      'Not connected to an Apolo platform',
      'Run apolo login.',
      'Then refresh.'
    ]);
  });

  it('words every string through the translator', async () => {
    const shouting: TranslationBundle = {
      ...trans,
      __: (msgid: string, ...args: unknown[]) =>
        // eslint-disable-next-line jupyter/no-dynamic-translation -- a wrapper passing msgids through
        trans.__(msgid, ...(args as string[])).toUpperCase()
    };
    const answer = mount(shouting);
    await answer({ kind: 'error', error: 'boom', unreachable: true });
    await waitFor(() => expect(body().dataset.state).toBe('error'));
    expect(body().textContent).toBe(
      'CANNOT LOAD THE APOLO CONNECTIONCANNOT REACH THE JUPYTER SERVER: BOOM'
    );
  });
});
