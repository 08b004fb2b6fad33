import { Module } from '@nestjs/common';
import { MeasurementsController } from './measurements.controller';
import { MeasurementsRepository } from './measurements.repository';

@Module({ controllers: [MeasurementsController], providers: [MeasurementsRepository] })
export class MeasurementsModule {}
