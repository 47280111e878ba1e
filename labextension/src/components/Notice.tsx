import * as React from 'react';

/**
 * `text` with each `backticked` command in the code font. Each word of a command is kept whole
 * (no line break at the hyphen of `jupyter-apolo`), words may wrap between them.
 */
export function CommandText(props: { text: string }): JSX.Element {
  const parts = props.text.split('`');
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 0 ? (
          <React.Fragment key={i}>{part}</React.Fragment>
        ) : (
          <React.Fragment key={i}>
            {part.split(' ').map((word, j) => (
              <React.Fragment key={j}>
                {j ? ' ' : ''}
                <code className="jp-Apolo-command">{word}</code>
              </React.Fragment>
            ))}
          </React.Fragment>
        )
      )}
    </>
  );
}

/** Props of `Notice`. */
export interface INoticeProps {
  kind: 'warning' | 'error';
  headline: string;
  /** What to do, in the normal text colour (commands in backticks). */
  text?: string;
  /** Diagnostics, quieter (commands in backticks); empty ones are left out. */
  details?: (string | undefined)[];
}

/** A notice box: a headline, what to do, then diagnostics. Announced to screen readers. */
export function Notice(props: INoticeProps): JSX.Element {
  return (
    <div className={`jp-Apolo-notice jp-mod-${props.kind}`} role="alert">
      <p className="jp-Apolo-noticeHeadline">{props.headline}</p>
      {props.text && (
        <p className="jp-Apolo-noticeText">
          <CommandText text={props.text} />
        </p>
      )}
      {(props.details ?? [])
        .filter(detail => !!detail)
        .map((detail, i) => (
          <p className="jp-Apolo-noticeDetail" key={i}>
            <CommandText text={detail!} />
          </p>
        ))}
    </div>
  );
}
