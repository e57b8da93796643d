// `npm run meridian -- <command>` / `npx meridian <command>`: see cli/program.ts, or `--help`.
import { processIo } from '../cli/output.js';
import { runCli } from '../cli/program.js';

process.exit(await runCli(process.argv.slice(2), processIo));
