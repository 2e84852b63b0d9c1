import { runCli } from './cli.js';

// `berth ls | head` closes stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Normally the process ends here on its own; if a stray handle keeps it alive, exit anyway.
setTimeout(() => process.exit(code), 2000).unref();
