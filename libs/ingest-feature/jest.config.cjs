module.exports = {
  displayName: 'ingest-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  passWithNoTests: false,
};
