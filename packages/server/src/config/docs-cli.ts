import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorsMarkdown } from '../api/error-docs.js';
import { configurationMarkdown } from './docs.js';

// Regenerates the docs that come from the schemas: `npm run docs` (from the repository root).
const docsDir = join(process.cwd(), 'docs');
writeFileSync(join(docsDir, 'configuration.md'), configurationMarkdown());
writeFileSync(join(docsDir, 'errors.md'), errorsMarkdown());
