import { Module } from '@nestjs/common';
import { FilesController } from './files.controller';
import { FilesRepository } from './files.repository';

@Module({ controllers: [FilesController], providers: [FilesRepository] })
export class FilesModule {}
