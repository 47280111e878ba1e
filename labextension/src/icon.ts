import { LabIcon } from '@jupyterlab/ui-components';

/** A small Apolo-like mark: a peak inside an orbit. `jp-icon3` makes it follow the theme. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 3.2 4.6 19.5h3.3l1.5-3.5h5.2l1.5 3.5h3.3L12 3.2Zm0 6.6 1.7 3.9h-3.4l1.7-3.9Z"/>
    <path fill-rule="evenodd" d="M12 7.4c6 0 10.6 2.1 10.6 4.7 0 1.6-1.7 3-4.4 3.9l-.8-1.7c2-.6 3.2-1.4 3.2-2.2 0-1.5-3.8-2.9-8.6-2.9S3.4 10.6 3.4 12.1c0 .8 1.2 1.6 3.2 2.2l-.8 1.7C3.1 15.1 1.4 13.7 1.4 12.1 1.4 9.5 6 7.4 12 7.4Z" opacity=".55"/>
  </g>
</svg>`;

export const apoloIcon = new LabIcon({ name: 'jupyter-apolo:apolo', svgstr });
