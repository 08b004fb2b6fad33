// Shared Jest setup. ts-jest cannot load the ESM-only NestJS 12 packages, so swc compiles
// both our TypeScript and those packages to CommonJS, keeping decorator metadata for Nest DI/TypeORM.
const { join } = require('node:path');

const swc = (syntax) => [
  '@swc/jest',
  {
    jsc: {
      parser: syntax === 'ts' ? { syntax: 'typescript', decorators: true } : { syntax: 'ecmascript' },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const esmOnly = ['@nestjs', 'file-type', 'strtok3', 'token-types', '@tokenizer', 'uint8array-extras', 'load-esm', 'csv-parse', 'csv-stringify'];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc('ts'), '^.+\\.m?js$': swc('js') },
  transformIgnorePatterns: [`node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  moduleNameMapper: { '^@sluice/(.*)$': join(__dirname, 'libs/$1/src/index.ts') },
  // The unit tier: jest.integration.config.cjs (*.int-spec.ts) and apps/e2e (*.e2e-spec.ts) set their own.
  testMatch: ['**/*.spec.ts'],
  setupFiles: ['reflect-metadata'],
  testTimeout: 30000,
};
