// Unit tests of the labextension (src/**/__tests__/*.spec.ts[x]), as the JupyterLab extension
// template configures them: @jupyterlab/testing's jsdom environment, ts-jest for TypeScript.
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@microsoft',
  '@jupyterlab/',
  'exenv-es6',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts'],
  coverageReporters: ['lcov', 'text'],
  // jest-junit writes the JUnit XML scripts/test.sh counts (JEST_JUNIT_OUTPUT_DIR/_NAME).
  reporters: ['default', 'jest-junit'],
  transform: {
    ...baseConfig.transform,
    // Transpile only (isolatedModules in tsconfig.test.json): `tsc -p tsconfig.test.json` type-checks the tests (jlpm lint:check), and
    // per-file type checks make a run several times slower on this 2-core machine.
    '^.+\\.tsx?$': ['ts-jest/legacy', { tsconfig: './tsconfig.test.json' }]
  },
  testRegex: 'src/.*/.*.spec.ts[x]?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
