import { type DynamicModule, Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@sluice/observability';
import { JetStreamService } from './jetstream.service';

const CLIENT_NAME = Symbol('NATS_CLIENT_NAME');

/** Connects to NATS at start (so a service that cannot reach it fails at boot) and reports readiness. */
@Global()
@Module({})
export class MessagingModule implements OnModuleInit {
  constructor(
    private readonly jetstream: JetStreamService,
    private readonly readiness: ReadinessRegistry,
    @Inject(CLIENT_NAME) private readonly clientName: string,
  ) {}

  static forRoot(clientName: string): DynamicModule {
    return {
      module: MessagingModule,
      providers: [JetStreamService, { provide: CLIENT_NAME, useValue: clientName }],
      exports: [JetStreamService],
    };
  }

  async onModuleInit(): Promise<void> {
    await this.jetstream.connect(this.clientName);
    this.readiness.register('nats', () => this.jetstream.ping());
  }
}
