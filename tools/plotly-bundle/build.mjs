// Writes assets/plotly-explorer.min.js: plotly.js (the version pinned in package.json) with only
// the trace types the explorer draws, and tools/plotly-bundle/bundle.json (version, trace types,
// size, sha256). Run through build.sh, which installs the pinned packages first (npm ci).
//
// It does what plotly.js's own `npm run custom-bundle` does (tasks/partial_bundle.js: an entry
// that requires lib/core and one lib/<trace> module per trace type, bundled by esbuild with the
// options of the package's esbuild-config.js), without plotly.js's repository: its npm package
// ships lib/ and src/, and the WebGL modules come already built (stackgl_modules/index.js,
// regl-*'s bundles with their shaders inlined; glslify's browser build only joins strings).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

//: every trace type a view of the explorer draws; tests/explorer/test_plotly_bundle.py fails
//: when a figure uses one that is not here
export const TRACES = ['scatter', 'scattergl', 'box', 'scatter3d', 'mesh3d'];

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const OUT = join(REPO, 'assets', 'plotly-explorer.min.js');
const MANIFEST = join(HERE, 'bundle.json');

//: maplibre-gl's stylesheet, which plotly.js's registry requires for map subplots only (none
//: here): left out, 83 kB
const NO_MAP_CSS = {
    name: 'no-map-css',
    setup(build) {
        build.onResolve({ filter: /^maplibre-gl\/dist\/maplibre-gl\.css$/ }, (args) => ({ path: args.path, namespace: 'empty' }));
        build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: '', loader: 'js' }));
    },
};

/** The entry module: plotly.js's core (which registers scatter) and the chosen traces. */
function entry(traces) {
    const reqs = traces.map((t) => `    require('plotly.js/lib/${t}'),`).join('\n');
    return `'use strict';\nvar Plotly = require('plotly.js/lib/core');\nPlotly.register([\n${reqs}\n]);\nmodule.exports = Plotly;\n`;
}

/** Bundle the entry with the options of plotly.js's esbuild-config.js, minified. */
async function bundle(traces, version) {
    const banner = `/*! plotly.js v${version} (MIT license), partial bundle with the traces: ` +
        `${traces.join(', ')}; built by tools/plotly-bundle/build.sh */`;
    await esbuild.build({
        stdin: { contents: entry(traces), resolveDir: HERE, sourcefile: 'plotly-explorer.js', loader: 'js' },
        outfile: OUT,
        format: 'iife',
        globalName: 'Plotly',
        bundle: true,
        minify: true,
        sourcemap: false,
        legalComments: 'none',
        banner: { js: banner },
        plugins: [NO_MAP_CSS, InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
        alias: { regl: '@plotly/regl' },  // as plotly.js: one regl for gl-text and the traces
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2016',
        logLevel: 'warning',
    });
}

async function main() {
    const version = JSON.parse(readFileSync(require.resolve('plotly.js/package.json'), 'utf8')).version;
    mkdirSync(dirname(OUT), { recursive: true });
    await bundle(TRACES, version);
    const code = readFileSync(OUT);
    const full = readFileSync(require.resolve('plotly.js/dist/plotly.min.js'));
    const manifest = {
        bundle: relative(REPO, OUT),
        plotly_js: version,
        traces: TRACES,
        bytes: code.length,
        sha256: createHash('sha256').update(code).digest('hex'),
        full_bundle_bytes: full.length,
    };
    writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
    const mb = (n) => (n / 1e6).toFixed(2);
    console.log(`${manifest.bundle}: ${mb(code.length)} MB (plotly.js ${version} plotly.min.js: ${mb(full.length)} MB), ` +
        `traces ${TRACES.join(', ')}`);
}

await main();
