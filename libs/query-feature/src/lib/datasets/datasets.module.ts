import { Module } from '@nestjs/common';
import { DatasetsController } from './datasets.controller';
import { DatasetsRepository } from './datasets.repository';

/** `/datasets`: the tables of data contracts read back; needs ContractsModule (global). */
@Module({ controllers: [DatasetsController], providers: [DatasetsRepository], exports: [DatasetsRepository] })
export class DatasetsModule {}
