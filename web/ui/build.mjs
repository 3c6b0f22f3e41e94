// Builds the webmail into dist/: one bundled, minified ES module and one stylesheet
// under dist/assets/ with content-hashed names (served as immutable by refmaild), and
// dist/index.html pointing at them (served no-cache with the CSP). No CDN, no inline
// script: everything the page runs comes from these files.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
let js = '', css = '';
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && file.endsWith('.js')) js = '/' + path.relative('dist', file);
  if (file.endsWith('.css')) css = '/' + path.relative('dist', file);
}
if (!js || !css) throw new Error('build: missing bundle outputs');
const html = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', js).replace('%APP_CSS%', css);
fs.writeFileSync(path.join(dist, 'index.html'), html);
