// Lets Node run the workspace's TypeScript directly (tools, CLI): swc with decorator metadata, and
// `@sluice/<lib>` resolved to libs/<lib>/src. ESM-only dependencies load through Node's require(esm).
const { join } = require('node:path');
const Module = require('node:module');

process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '../../tsconfig.base.json');
const libs = join(__dirname, '../../libs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@sluice\/([a-z-]+)$/.exec(request);
  return resolve.call(this, m ? join(libs, m[1], 'src/index.ts') : request, ...rest);
};
require('@swc-node/register');
