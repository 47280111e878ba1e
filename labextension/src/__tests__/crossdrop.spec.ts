/**
 * Which drags the cross-browser drop takes: only paths that all come from the other browser's
 * drive, as the real contents manager names drives (`Apolo:a/b` vs. `a/b`).
 */
import { ContentsManager, ServerConnection } from '@jupyterlab/services';

import { foreignPaths } from '../drive/crossdrop';
import { ApoloDrive } from '../drive/drive';

describe('foreignPaths', () => {
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://127.0.0.1:9/'
  });
  const contents = new ContentsManager({ serverSettings: settings });
  contents.addDrive(new ApoloDrive(settings));
  const driveOf = (path: string) => contents.driveName(path);
  afterAll(() => contents.dispose());

  it('takes storage paths dropped on the workspace, and the reverse', () => {
    const fromStorage = ['Apolo:team/proj/run-42', 'Apolo:team/proj/a.csv'];
    expect(foreignPaths(fromStorage, '', 'Apolo', driveOf)).toEqual(
      fromStorage
    );
    expect(foreignPaths(['notebooks/a b.ipynb'], 'Apolo', '', driveOf)).toEqual(
      ['notebooks/a b.ipynb']
    );
  });

  it('reads a colon in a workspace name as part of the name', () => {
    // a name with a colon is a workspace file unless the prefix is a registered drive
    expect(foreignPaths(['Other:x'], 'Apolo', '', driveOf)).toEqual([
      'Other:x'
    ]);
  });

  it('leaves drags within one drive to Lab', () => {
    expect(foreignPaths(['Apolo:team/a'], 'Apolo', '', driveOf)).toBeNull();
    expect(foreignPaths(['a.txt'], '', 'Apolo', driveOf)).toBeNull();
    expect(foreignPaths(['a.txt'], '', '', driveOf)).toBeNull();
  });

  it('leaves mixed and malformed drags to Lab', () => {
    expect(foreignPaths(['Apolo:a', 'b'], '', 'Apolo', driveOf)).toBeNull();
    expect(foreignPaths([], '', 'Apolo', driveOf)).toBeNull();
    expect(foreignPaths('Apolo:a', '', 'Apolo', driveOf)).toBeNull();
    expect(foreignPaths([42], '', 'Apolo', driveOf)).toBeNull();
  });
});
