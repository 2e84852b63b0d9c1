import { configurationMarkdown } from './docs.js';

process.stdout.write(configurationMarkdown());
