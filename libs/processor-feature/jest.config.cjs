module.exports = {
  displayName: 'processor-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  passWithNoTests: false,
};
