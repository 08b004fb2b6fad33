// Webpack config shared by the four Nest apps: a Node bundle of the app and its libs (path aliases
// resolved), with npm dependencies left external and listed in a generated package.json for the image.
const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { join } = require('node:path');

module.exports = (appDir, name) => ({
  output: { path: join(appDir, '../../dist/apps', name), clean: true },
  plugins: [
    new NxAppWebpackPlugin({
      target: 'node',
      compiler: 'tsc',
      main: './src/main.ts',
      tsConfig: './tsconfig.app.json',
      optimization: false,
      outputHashing: 'none',
      generatePackageJson: true,
      sourceMap: true,
    }),
  ],
});
