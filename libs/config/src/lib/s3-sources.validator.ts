import { registerDecorator, type ValidationArguments } from 'class-validator';
import { parseS3Sources, type MinioVariables } from './s3-sources';

type SourceVariables = MinioVariables & { S3_SOURCES?: string };

function problemOf(config: SourceVariables): string | null {
  try {
    parseS3Sources(config.S3_SOURCES, config);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Validates S3_SOURCES together with the MINIO_* variables; the message is the parser's, naming the entry at fault. */
export function IsS3Sources() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isS3Sources',
      target: target.constructor,
      propertyName,
      options: { message: (args: ValidationArguments) => problemOf(args.object as SourceVariables) ?? 'is invalid' },
      validator: { validate: (_value: unknown, args: ValidationArguments) => problemOf(args.object as SourceVariables) === null },
    });
}
