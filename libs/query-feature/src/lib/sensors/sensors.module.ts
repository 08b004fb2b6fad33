import { Module } from '@nestjs/common';
import { SensorsController } from './sensors.controller';
import { SensorsRepository } from './sensors.repository';

@Module({ controllers: [SensorsController], providers: [SensorsRepository] })
export class SensorsModule {}
