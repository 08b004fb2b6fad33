import { Module } from '@nestjs/common';
import { LiveEventsService } from './live-events.service';
import { LiveController } from './live.controller';
import { LiveRepository } from './live.repository';

@Module({ controllers: [LiveController], providers: [LiveRepository, LiveEventsService] })
export class LiveModule {}
