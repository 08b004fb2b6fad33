import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type uPlot from 'uplot';
import { DASHBOARD_HTML, DASHBOARD_ICON } from './dashboard.page';
import { DASHBOARD_JS } from './dashboard.script';
import { DASHBOARD_CSS } from './dashboard.style';

/** The browser global the page script uses (typed here only so the dependency is declared). */
export type UPlotConstructor = typeof uPlot;

export interface Asset {
  body: Buffer | string;
  type: string;
}

/**
 * uPlot's browser build, read from node_modules at run time (the bundler would turn a plain
 * require.resolve into a module id). The import below keeps uplot in the app's generated package.json.
 */
function uplotDist(): string {
  return dirname(createRequire(__filename).resolve('uplot/dist/uPlot.iife.min.js'));
}

/** The page, its script and style, and uPlot's dist files, held in memory (about 60 kB). */
@Injectable()
export class DashboardAssets {
  readonly html = DASHBOARD_HTML;
  private readonly files = new Map<string, Asset>();

  constructor() {
    this.files.set('app.js', { body: DASHBOARD_JS, type: 'text/javascript; charset=utf-8' });
    this.files.set('app.css', { body: DASHBOARD_CSS, type: 'text/css; charset=utf-8' });
    this.files.set('favicon.svg', { body: DASHBOARD_ICON, type: 'image/svg+xml' });
    const dist = uplotDist();
    this.files.set('vendor/uPlot.iife.min.js', { body: readFileSync(join(dist, 'uPlot.iife.min.js')), type: 'text/javascript; charset=utf-8' });
    this.files.set('vendor/uPlot.min.css', { body: readFileSync(join(dist, 'uPlot.min.css')), type: 'text/css; charset=utf-8' });
  }

  get(name: string): Asset | undefined {
    return this.files.get(name);
  }
}
