import 'reflect-metadata';
import { runCli } from './app/program';

void runCli(process.argv).then((code) => {
  process.exitCode = code;
});
