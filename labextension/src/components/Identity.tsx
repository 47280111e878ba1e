import { TranslationBundle } from '@jupyterlab/translation';
import { userIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IApoloContext } from '../tokens';

/** The identity card: user, cluster/org/project (and job), then the platform's API URL and kind. */
export function Identity(props: {
  context: IApoloContext;
  trans: TranslationBundle;
}): JSX.Element {
  const { context, trans } = props;
  // Labels and placeholders as `apolo config show` prints them.
  const rows: [string, string, string][] = [
    [trans.__('Cluster'), context.cluster ?? '—', 'cluster'],
    [trans.__('Org'), context.org ?? '<no-org>', 'org'],
    [trans.__('Project'), context.project ?? '<no-project>', 'project']
  ];
  if (context.job) {
    const { id, name } = context.job;
    rows.push([trans.__('Job'), name ? `${name} (${id})` : id, 'job']);
  }
  return (
    <div className="jp-Apolo-identity">
      <div className="jp-Apolo-who">
        <userIcon.react className="jp-Apolo-whoIcon" tag="span" />
        <span className="jp-Apolo-user" title={context.user}>
          {context.user}
        </span>
      </div>
      <dl className="jp-Apolo-details">
        {rows.map(([label, value, field]) => (
          <React.Fragment key={field}>
            <dt className="jp-Apolo-label">{label}</dt>
            <dd className="jp-Apolo-value" data-field={field} title={value}>
              {value}
            </dd>
          </React.Fragment>
        ))}
      </dl>
      <Platform platform={context.platform} trans={trans} />
    </div>
  );
}

/** "API URL [Embedded platform]" over the full-width URL. */
export function Platform(props: {
  platform: IApoloContext['platform'];
  trans: TranslationBundle;
}): JSX.Element {
  const { platform, trans } = props;
  const [modifier, label, tooltip] = platform.embedded
    ? [
        'jp-mod-embedded',
        trans.__('Embedded platform'),
        trans.__('The Apolo-compatible platform running on this machine')
      ]
    : [
        'jp-mod-external',
        trans.__('External platform'),
        trans.__('A platform reached with your Apolo credentials')
      ];
  // A narrow sidebar may break the line between host and path, not inside the host or port.
  const origin = platform.url.match(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i);
  return (
    <div className="jp-Apolo-platform">
      <div className="jp-Apolo-platformHeading">
        <span className="jp-Apolo-label">{trans.__('API URL')}</span>
        <span className={`jp-Apolo-platformKind ${modifier}`} title={tooltip}>
          {label}
        </span>
      </div>
      <div
        className="jp-Apolo-value jp-Apolo-url"
        data-field="url"
        title={platform.url}
      >
        {origin ? (
          <>
            {origin[0]}
            <wbr />
            {platform.url.slice(origin[0].length)}
          </>
        ) : (
          platform.url
        )}
      </div>
    </div>
  );
}
