// Writes the explorer's plotly.js into assets/: plotly.js (the version pinned in package.json)
// with only the trace types the explorer draws, in two parts that share one chunk (ES modules):
//
//   plotly-explorer.min.js        the core and the 2D traces (scatter, scattergl, box): what the
//                                 landing page draws
//   plotly-explorer-gl3d.min.js   the 3D traces (scatter3d, mesh3d) and their WebGL modules,
//                                 registered into the same Plotly when a cell is drawn
//   plotly-explorer-shared-<hash>.min.js   the modules both use (one registry, one Plotly)
//
// and tools/plotly-bundle/bundle.json (version, trace types of each part, each file's size and
// sha256). assets/plotly-explorer-loader.js imports the parts. Run through build.sh, which
// installs the pinned packages first (npm ci).
//
// It does what plotly.js's own `npm run custom-bundle` does (tasks/partial_bundle.js: an entry
// that requires lib/core and one lib/<trace> module per trace type, bundled by esbuild with the
// options of the package's esbuild-config.js), without plotly.js's repository: its npm package
// ships lib/ and src/, and the WebGL modules come already built (stackgl_modules/index.js,
// regl-*'s bundles with their shaders inlined; glslify's browser build only joins strings).
// Two changes to plotly.js's 2D WebGL code are applied as its sources are bundled (PATCHES below,
// each a text found exactly once and its replacement, measured in docs/performance.md): the
// canvas without multisample antialiasing, and the selected points drawn by the canvas's own
// WebGL context rather than a second one.
// The 3D part is split off because evaluating it costs the page about 0.2 s of its one thread
// (software WebGL, 2 cores), which the landing page, drawing no 3D, need not pay before its
// scatter.
//
// It also writes assets/regenerator-runtime.min.js (the npm package regenerator-runtime, pinned
// here): the one part of Dash's @babel/polyfill that a current browser lacks and Dash's scripts
// use (`regeneratorRuntime`, for their async functions). The explorer's page leaves the polyfill
// out (explorer/page.py): running it cost the page 0.17 s of its one thread at start-up.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

//: every trace type a view of the explorer draws, by part (entry module name -> trace types);
//: tests/explorer/test_plotly_bundle.py fails when a figure uses one that is not here
export const PARTS = {
    'plotly-explorer': ['scatter', 'scattergl', 'box'],
    'plotly-explorer-gl3d': ['scatter3d', 'mesh3d'],
};
export const TRACES = Object.values(PARTS).flat();
//: the first part: core, and `registered(type)` for the loader (is a trace type's module in?)
const CORE = 'plotly-explorer';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const ASSETS = join(REPO, 'assets');
const OWN = /^plotly-explorer(-gl3d|-shared-[A-Z0-9]+)?\.min\.js$/;  // the bundle's files
const RUNTIME = 'regenerator-runtime.min.js';  // and the other file this script writes
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

//: Changes to plotly.js's 2D WebGL code (scattergl's; splom and parcoords are not bundled), each
//: measured in software WebGL (SwiftShader: no GPU), where the landing page's scatter of 165,702
//: points is drawn (docs/performance.md). Each is a source file, a text found exactly once in it
//: (the build fails otherwise: a new plotly.js changed it) and its replacement.
export const PATCHES = [
    // The canvas without multisample antialiasing (prepare_regl.js asks for `antialias: !d.pick`).
    // The markers need none: regl-scatter2d smooths their edges in its fragment shaders
    // (circle-frag.glsl, marker-frag.glsl); the explorer's 2D WebGL lines are the dendrogram's
    // horizontal and vertical cables. The multisampled buffer cost the 450-cell first paint
    // 0.15-0.28 s and a box selection's redraws 1.2 s. The 3D scenes (gl-plot3d) keep theirs.
    { file: 'src/lib/prepare_regl.js', from: 'antialias: !d.pick,', to: 'antialias: false,' },
    // One WebGL context instead of two: the selected points (select2d) are drawn by the context
    // canvas's regl, after the others (scene_update.js draws select2d last, over them, as the focus
    // canvas lay over the context canvas), so the focus canvas gets no context of its own (a
    // second context, its own shader programs, and a second canvas read back at every frame).
    { file: 'src/traces/scattergl/plot.js', from: 'createScatter(fullLayout._glcanvas.data()[1].regl)', to: 'createScatter(regl)' },
    { file: 'src/lib/prepare_regl.js', from: "if(d.pick && !fullLayout._has('parcoords')) return;",
      to: "if((d.pick || !d.context) && !fullLayout._has('parcoords')) return;" },
];

/** The plugin applying :data:`PATCHES` to plotly.js's sources as esbuild loads them; the build
 * fails if a patch's text is not found exactly once, or if its file was never bundled. */
const PLOTLY_PATCHES = {
    name: 'plotly-patches',
    setup(build) {
        const applied = new Set();
        build.onLoad({ filter: /plotly\.js[\\/]src[\\/].*\.js$/ }, (args) => {
            const rel = args.path.replace(/\\/g, '/').split('plotly.js/').pop();
            const mine = PATCHES.filter((p) => p.file === rel);
            if (!mine.length) return undefined;  // esbuild loads it as it is
            let code = readFileSync(args.path, 'utf8');
            for (const p of mine) {
                if (code.split(p.from).length !== 2) throw new Error(`${args.path}: "${p.from}" not found exactly once`);
                code = code.replace(p.from, p.to);
                applied.add(p);
            }
            return { contents: code, loader: 'js' };
        });
        build.onEnd(() => {
            const missed = PATCHES.filter((p) => !applied.has(p));
            if (missed.length) throw new Error(`plotly.js patches not applied (their files were not bundled): ${missed.map((p) => p.file)}`);
        });
    },
};

/** An entry module: plotly.js's core (which registers scatter) and the part's traces; the core
 * part also exports `registered(type)`, read from plotly.js's registry. */
function entry(name, traces) {
    const imports = traces.map((t, i) => `import t${i} from 'plotly.js/lib/${t}';`).join('\n');
    const core = name !== CORE ? '' : "import Registry from 'plotly.js/src/registry';\n" +
        'export function registered(type) { return Object.prototype.hasOwnProperty.call(Registry.modules, type); }\n';
    return `import Plotly from 'plotly.js/lib/core';\n${imports}\n${core}` +
        `Plotly.register([${traces.map((_, i) => `t${i}`).join(', ')}]);\nexport default Plotly;\n`;
}

/** The parts' entry modules, by name, to esbuild (namespace `part`). */
const ENTRIES = {
    name: 'parts',
    setup(build) {
        build.onResolve({ filter: /^part:/ }, (args) => ({ path: args.path.slice(5), namespace: 'part' }));
        build.onLoad({ filter: /.*/, namespace: 'part' }, (args) => ({
            contents: entry(args.path, PARTS[args.path]), resolveDir: HERE, loader: 'js',
        }));
    },
};

/** Bundle the parts with the options of plotly.js's esbuild-config.js, minified, as ES modules
 * split so that the modules both parts use are in one shared chunk (evaluated once). */
async function bundle(version) {
    const banner = `/*! plotly.js v${version} (MIT license), partial bundle with the traces: ` +
        `${TRACES.join(', ')}; built by tools/plotly-bundle/build.sh */`;
    await esbuild.build({
        entryPoints: Object.fromEntries(Object.keys(PARTS).map((name) => [name, `part:${name}`])),
        outdir: ASSETS,
        entryNames: '[name].min',
        chunkNames: 'plotly-explorer-shared-[hash].min',
        format: 'esm',
        splitting: true,
        bundle: true,
        minify: true,
        sourcemap: false,
        legalComments: 'none',
        banner: { js: banner },
        plugins: [ENTRIES, NO_MAP_CSS, PLOTLY_PATCHES, InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
        alias: { regl: '@plotly/regl' },  // as plotly.js: one regl for gl-text and the traces
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2020',  // dynamic import()
        logLevel: 'warning',
    });
}

/** regenerator-runtime as a classic script (Dash lists assets' scripts before its own), its
 * global `regeneratorRuntime` and nothing else. */
async function runtime() {
    const pkg = JSON.parse(readFileSync(require.resolve('regenerator-runtime/package.json'), 'utf8'));
    await esbuild.build({
        stdin: { contents: "require('regenerator-runtime/runtime.js');\n", resolveDir: HERE },
        outfile: join(ASSETS, RUNTIME),
        format: 'iife',
        bundle: true,
        minify: true,
        legalComments: 'none',
        banner: { js: `/*! regenerator-runtime v${pkg.version} (MIT license); built by tools/plotly-bundle/build.sh */` },
        target: 'es2020',
        logLevel: 'warning',
    });
    return { package: 'regenerator-runtime', version: pkg.version, ...described(RUNTIME) };
}

/** A written file of assets/: its path from the repository, size and sha256. */
function described(name) {
    const code = readFileSync(join(ASSETS, name));
    return { path: relative(REPO, join(ASSETS, name)), bytes: code.length, sha256: createHash('sha256').update(code).digest('hex') };
}

async function main() {
    const version = JSON.parse(readFileSync(require.resolve('plotly.js/package.json'), 'utf8')).version;
    mkdirSync(ASSETS, { recursive: true });
    for (const f of readdirSync(ASSETS).filter((f) => OWN.test(f))) rmSync(join(ASSETS, f));
    await bundle(version);
    const files = readdirSync(ASSETS).filter((f) => OWN.test(f)).sort().map(described);
    const full = readFileSync(require.resolve('plotly.js/dist/plotly.min.js'));
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    const manifest = { plotly_js: version, traces: TRACES, parts: PARTS, files, bytes, full_bundle_bytes: full.length,
        runtime: await runtime() };
    writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
    const mb = (n) => (n / 1e6).toFixed(2);
    for (const f of files) console.log(`${f.path}: ${mb(f.bytes)} MB`);
    console.log(`${files.length} files, ${mb(bytes)} MB (plotly.js ${version} plotly.min.js: ${mb(full.length)} MB), ` +
        `traces ${TRACES.join(', ')}`);
}

await main();
