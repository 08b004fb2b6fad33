import { Body, Controller, Get, NotFoundException, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { QueryApiConfig } from '@sluice/config';
import { API_KEY_COOKIE, ApiKeyMatcher, PublicRoute } from '@sluice/http';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardAssets } from './dashboard.assets';

export class KeyDto {
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  key?: string;
}

const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

/** Only our own files: scripts, styles and fetches from this origin; no framing. uPlot sets inline styles. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/**
 * The dashboard (SPEC §6.3 `GET /`): a static page and its assets, open to everyone; the data it shows
 * comes from the protected endpoints. `GET /?key=…` (the link `npm start` prints) or the page's form puts
 * the key in an HttpOnly, SameSite=Strict cookie and redirects to `/`, so the key leaves the address bar.
 */
@ApiExcludeController()
@PublicRoute()
@Controller()
export class DashboardController {
  private readonly matcher: ApiKeyMatcher;

  constructor(
    private readonly assets: DashboardAssets,
    config: QueryApiConfig,
  ) {
    this.matcher = new ApiKeyMatcher(config.queryKeys, config.ingestKeys);
  }

  @Get()
  page(@Query() q: KeyDto, @Req() req: IncomingMessage & { secure?: boolean }, @Res() res: ServerResponse): void {
    if (q.key !== undefined) return this.takeKey(q.key, req, res);
    res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': 'text/html; charset=utf-8' }).end(this.assets.html);
  }

  @Post()
  login(@Body() body: KeyDto, @Req() req: IncomingMessage & { secure?: boolean }, @Res() res: ServerResponse): void {
    this.takeKey(body.key ?? '', req, res);
  }

  @Post('logout')
  logout(@Res() res: ServerResponse): void {
    res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store', 'Set-Cookie': `${API_KEY_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` }).end();
  }

  /** Browsers ask for it on every page of this origin (/docs too). */
  @Get('favicon.ico')
  favicon(@Res() res: ServerResponse): void {
    this.send(res, this.assets.get('favicon.svg') as { body: string; type: string });
  }

  @Get('dashboard/:file')
  asset(@Param('file') file: string, @Res() res: ServerResponse): void {
    const asset = this.assets.get(file);
    if (!asset) throw new NotFoundException(`Cannot GET /dashboard/${file}`);
    this.send(res, asset);
  }

  @Get('dashboard/vendor/:file')
  vendor(@Param('file') file: string, @Res() res: ServerResponse): void {
    const asset = this.assets.get(`vendor/${file}`);
    if (!asset) throw new NotFoundException(`Cannot GET /dashboard/vendor/${file}`);
    this.send(res, asset);
  }

  private send(res: ServerResponse, asset: { body: Buffer | string; type: string }): void {
    res.writeHead(200, { 'Content-Type': asset.type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'public, max-age=300' }).end(asset.body);
  }

  /**
   * A valid key of this API becomes the cookie; anything else clears it and the page asks again. Either
   * way the answer is a redirect to `/`, so the key is not left in the address bar or the history.
   */
  private takeKey(key: string, req: IncomingMessage & { secure?: boolean }, res: ServerResponse): void {
    const accepted = this.matcher.match(key) === 'accepted';
    const secure = req.secure ? '; Secure' : '';
    const cookie = accepted
      ? `${API_KEY_COOKIE}=${encodeURIComponent(key)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_S}${secure}`
      : `${API_KEY_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure}`;
    res.writeHead(303, { Location: accepted ? '/' : '/#key-refused', 'Cache-Control': 'no-store', 'Set-Cookie': cookie, 'Referrer-Policy': 'no-referrer' }).end();
  }
}
