import * as React from 'react';

/** Props of `VirtualList`. */
export interface IVirtualListProps {
  /** How many rows there are. */
  count: number;
  /** The fixed height of every row, in CSS pixels. */
  rowHeight: number;
  /** The row at `index` (its outer element gets the position style through `style`). */
  renderRow: (index: number, style: React.CSSProperties) => JSX.Element;
  /** Rows drawn above and below the visible ones (default 8). */
  overscan?: number;
  /** Height assumed before the container was measured (jsdom, first paint). Default 600 px. */
  initialHeight?: number;
  className?: string;
  /** The list's accessible name. */
  label?: string;
}

/**
 * A windowed list: only the rows in view (plus `overscan`) exist in the DOM, absolutely placed
 * in a spacer as tall as all rows, so 10,000 jobs cost the same to draw as 30. Fixed row height
 * keeps it to arithmetic (no measuring of rows).
 */
export function VirtualList(props: IVirtualListProps): JSX.Element {
  const { count, rowHeight, overscan = 8 } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(props.initialHeight ?? 600);

  React.useLayoutEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const measure = () => {
      if (node.clientHeight) {
        setHeight(node.clientHeight);
      }
    };
    measure();
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(
    count,
    Math.ceil((scrollTop + height) / rowHeight) + overscan
  );
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      props.renderRow(i, {
        position: 'absolute',
        top: i * rowHeight,
        left: 0,
        right: 0,
        height: rowHeight
      })
    );
  }
  return (
    <div
      ref={ref}
      className={props.className}
      role="list"
      aria-label={props.label}
      style={{ overflowY: 'auto', position: 'relative' }}
      onScroll={event => setScrollTop(event.currentTarget.scrollTop)}
    >
      <div style={{ position: 'relative', height: count * rowHeight }}>
        {rows}
      </div>
    </div>
  );
}
