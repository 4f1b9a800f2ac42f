/*
 * plotly.js for dcc.Graph: the explorer's partial bundle (plotly-explorer.min.js beside this file,
 * plotly.js with only the trace types the explorer draws; tools/plotly-bundle/build.sh), loaded
 * without holding up the page, instead of the full plotly.min.js (4.8 MB).
 *
 * dcc.Graph plots with `window.Plotly` and, when that is not set, loads the full plotly.js
 * (dash_core_components.js: `Promise.resolve(window.Plotly || <load window._dashPlotlyJSURL>)`).
 * Until the bundle has run, `window.Plotly` is a promise of it, which that line waits for; the
 * bundle then sets `window.Plotly` itself (its `var Plotly = ...`). The bundle is requested once
 * the page's own scripts have run (DOMContentLoaded), when Dash has started and asks the server
 * for the layout and the figures, so that it is parsed and run (about 0.35 s here) while the
 * server works. A script tag of it (how Dash includes assets; the app leaves the bundle out, see
 * explorer.app._assets_ignore) would hold up the page for that long before Dash asks anything,
 * and an async one loaded at once runs among the page's scripts: the landing page of
 * benchmarks/bench_browser.py drew 0.15-0.2 s later with either (medians of 5, loaded machine).
 */
(function () {
    "use strict";
    if (window.Plotly) {
        return;
    }
    const src = document.currentScript.src.replace(/[^/]*$/, "plotly-explorer.min.js");
    window.Plotly = new Promise(function (resolve, reject) {
        function load() {
            const script = document.createElement("script");
            script.src = src;
            script.async = true;
            script.onload = function () {
                resolve(window.Plotly);
            };
            script.onerror = function () {
                window.Plotly = undefined;
                reject(new Error("plotly.js bundle not loaded: " + src + " (tools/plotly-bundle/build.sh builds it)"));
            };
            document.head.appendChild(script);
        }
        if (document.readyState === "loading") {
            document.addEventListener("DOMContentLoaded", load);
        } else {
            load();
        }
    });
})();
