module.exports = {
  displayName: 'watcher-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  passWithNoTests: false,
};
