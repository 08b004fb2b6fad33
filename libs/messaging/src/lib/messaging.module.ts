import { type DynamicModule, Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@sluice/observability';
import { JetStreamService } from './jetstream.service';

const CLIENT_NAME = Symbol('NATS_CLIENT_NAME');
const REQUIRED_FOR_READINESS = Symbol('NATS_REQUIRED_FOR_READINESS');

/**
 * Connects to NATS at start (so a service that cannot reach it fails at boot) and reports readiness:
 * required by default; `requiredForReadiness: false` for a service that works on without NATS (reported
 * degraded, still ready). A JetStream without a leader does not fail the start: the stream is set up once it
 * has one, and the service is not ready until then.
 */
@Global()
@Module({})
export class MessagingModule implements OnModuleInit {
  constructor(
    private readonly jetstream: JetStreamService,
    private readonly readiness: ReadinessRegistry,
    @Inject(CLIENT_NAME) private readonly clientName: string,
    @Inject(REQUIRED_FOR_READINESS) private readonly required: boolean,
  ) {}

  static forRoot(clientName: string, { requiredForReadiness = true }: { requiredForReadiness?: boolean } = {}): DynamicModule {
    return {
      module: MessagingModule,
      providers: [JetStreamService, { provide: CLIENT_NAME, useValue: clientName }, { provide: REQUIRED_FOR_READINESS, useValue: requiredForReadiness }],
      exports: [JetStreamService],
    };
  }

  async onModuleInit(): Promise<void> {
    await this.jetstream.connect(this.clientName, { waitForJetStream: false });
    this.readiness.register('nats', () => this.jetstream.ping(), { required: this.required });
  }
}
