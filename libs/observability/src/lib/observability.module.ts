import { type DynamicModule, Global, Module, type RequestMethod } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { CommonConfig } from '@sluice/config';
import { LoggerModule } from 'nestjs-pino';
import { collectDefaultMetrics, register } from 'prom-client';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { PeriodicJobs } from './periodic-jobs.service';
import { ReadinessRegistry } from './readiness.registry';

/** `?key=…` in a URL, with the value replaced. */
export const redactKeyParam = (url: string | undefined): string | undefined => url?.replace(/([?&]key=)[^&#]*/gi, '$1[redacted]');

// pino's JSON escapes C0 (ESC is \u001b) but leaves DEL, C1 (U+009B is a CSI too) and bidi overrides raw.
const RAW_CONTROLS = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A pino log line made inert for a terminal: the controls JSON leaves raw, escaped (only strings hold them). */
export const escapeLogLine = (line: string): string => line.replace(RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** JSON logs (pino), Prometheus /metrics, /health/{live,ready} and the scheduler of periodic jobs for one service. */
@Global()
@Module({})
export class ObservabilityModule {
  /**
   * `quietRoutes`: high-volume routes with no request log line (nor the per-request logger it costs);
   * their metrics count them instead.
   */
  static forRoot(service: string, opts: { quietRoutes?: Array<{ path: string; method: RequestMethod }> } = {}): DynamicModule {
    register.setDefaultLabels({ service });
    if (!register.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register });
    return {
      module: ObservabilityModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        // @Interval/@Cron methods anywhere in the app, and the SchedulerRegistry behind PeriodicJobs.
        ScheduleModule.forRoot(),
        LoggerModule.forRootAsync({
          inject: [CommonConfig],
          useFactory: (config: CommonConfig) => ({
            exclude: opts.quietRoutes,
            pinoHttp: {
              name: service,
              level: config.LOG_LEVEL,
              // File names and other outside text reach log lines; a terminal tailing them must not act on them.
              hooks: { streamWrite: escapeLogLine },
              // API keys and cookies never reach a log line.
              redact: { paths: ['req.headers["x-api-key"]', 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', 'req.query.key'], censor: '[redacted]' },
              // The dashboard link (`/?key=…`) carries a key in its URL.
              serializers: { req: (req: { url?: string }) => Object.assign(req, { url: redactKeyParam(req.url) }) },
              autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
            },
          }),
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [ReadinessRegistry, PeriodicJobs],
      exports: [ReadinessRegistry, PeriodicJobs],
    };
  }
}
