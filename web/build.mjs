// Bundles the pages the gateway serves: ui/app.js with the npm modules it imports (uPlot) into one
// script, ui/style.css with the CSS it imports into one sheet, and index.html beside them. The
// output folder is the server's static_dir (CMake passes <build>/web/static; the .deb installs it).
// Usage: node build.mjs --outdir <folder>
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf('--outdir');
if (at < 0 || !process.argv[at + 1]) {
  console.error('build.mjs: --outdir <folder> is required (CMake passes <build>/web/static)');
  process.exit(2);
}
const outdir = resolve(process.argv[at + 1]);
if (!existsSync(join(here, 'node_modules', '.package-lock.json'))) {
  console.error(`build.mjs: ${join(here, 'node_modules')} is missing or incomplete: run \`npm ci --prefix ${here}\` ` +
                '(./setup.sh deps does it)');
  process.exit(1);
}
const esbuild = await import('esbuild');

await mkdir(outdir, { recursive: true });
await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'ui/app.js', style: 'ui/style.css' },
  outdir,
  bundle: true,
  minify: true,
  // Residents' phones: Android WebView and iOS Safari of the last few years.
  target: 'es2020',
  format: 'iife',
  legalComments: 'eof',  // uPlot's MIT notice stays in the shipped file
  logLevel: 'warning',
});
await copyFile(join(here, 'ui', 'index.html'), join(outdir, 'index.html'));
