/*
 * plotly.js for dcc.Graph: the explorer's partial bundle (tools/plotly-bundle/build.sh), loaded
 * without holding up the page, instead of the full plotly.min.js (4.8 MB). Two ES modules beside
 * this file share one chunk (one registry, one Plotly):
 *
 *   plotly-explorer.min.js        core and the 2D traces (scatter, scattergl, box)
 *   plotly-explorer-gl3d.min.js   the 3D traces (scatter3d, mesh3d), registered into the same Plotly
 *
 * dcc.Graph plots with `window.Plotly` and, when that is not set, loads the full plotly.js
 * (dash_core_components.js: `Promise.resolve(window.Plotly || <load window._dashPlotlyJSURL>)`).
 * Until the core part has run, `window.Plotly` is a promise of it, which that line waits for.
 * The parts are imported once the page's own scripts have run (DOMContentLoaded), when Dash has
 * started and asks the server for the layout and the figures, so that they are parsed and run
 * while the server works. A script tag (how Dash includes assets; the app leaves the bundle out,
 * see explorer.app._assets_ignore) would hold up the page before Dash asks anything.
 *
 * The 3D part (about 0.2 s of the page's thread to run, in software WebGL on 2 cores) is
 * imported at once when the address names a cell (`?cell=`: the 3D view draws first); on the
 * landing page, once the page's first WebGL scatter has been plotted and the page is idle; and in
 * any case before a figure with a trace type the core lacks is plotted (Plotly.newPlot and
 * Plotly.react wait for it), so that no view draws before its traces are registered.
 */
(function () {
    "use strict";
    if (window.Plotly) {
        return;
    }
    const base = document.currentScript.src.replace(/[^/]*$/, "");
    const CORE = base + "plotly-explorer.min.js";
    const GL3D = base + "plotly-explorer-gl3d.min.js";
    const BUILD = " (tools/plotly-bundle/build.sh builds it)";
    let gl3d = null;

    function loadGl3d() {
        if (!gl3d) {
            gl3d = import(GL3D).catch(function (err) {
                throw new Error("plotly.js 3D part not loaded: " + GL3D + BUILD + ": " + err);
            });
        }
        return gl3d;
    }

    function tracesOf(data) {
        return Array.isArray(data) ? data : (data && data.data) || [];
    }

    function whenIdle(fn) {
        if (window.requestIdleCallback) {
            window.requestIdleCallback(fn, {timeout: 2000});
        } else {
            setTimeout(fn, 500);
        }
    }

    /* newPlot and react of a figure with a trace type the core lacks wait for the 3D part; the
     * first figure with a WebGL scatter, once plotted, has the 3D part imported when idle */
    function guard(Plotly, registered) {
        ["newPlot", "react"].forEach(function (name) {
            const plot = Plotly[name];
            Plotly[name] = function (gd, data) {
                const args = arguments;
                const traces = tracesOf(data);
                const missing = traces.some(function (t) {
                    return !registered((t && t.type) || "scatter");
                });
                if (missing) {
                    return loadGl3d().then(function () {
                        return plot.apply(Plotly, args);
                    });
                }
                const out = plot.apply(Plotly, args);
                const scatter = traces.some(function (t) {
                    return t && t.type === "scattergl";
                });
                if (!gl3d && scatter && out && out.then) {
                    out.then(function () {
                        whenIdle(loadGl3d);
                    });
                }
                return out;
            };
        });
    }

    window.Plotly = new Promise(function (resolve, reject) {
        function load() {
            if (/[?&]cell=/.test(window.location.search)) {
                loadGl3d();
            }
            import(CORE).then(
                function (core) {
                    const Plotly = core.default;
                    guard(Plotly, core.registered);
                    window.Plotly = Plotly;
                    resolve(Plotly);
                },
                function (err) {
                    window.Plotly = undefined;
                    reject(new Error("plotly.js bundle not loaded: " + CORE + BUILD + ": " + err));
                }
            );
        }
        if (document.readyState === "loading") {
            document.addEventListener("DOMContentLoaded", load);
        } else {
            load();
        }
    });
})();
