/*
 * Box and lasso selections of a large scatter, sent to the server as mitochondrion ids.
 *
 * dcc.Graph turns plotly's `plotly_selected` event into its `selectedData` prop: one record per
 * selected point, built point by point, stored by the renderer and handed to a callback. For a
 * graph inside an element with `data-ids-store`, this script replaces that handler with one that
 * keeps only the ids (at most `data-max-ids`, with the total) and sets them on the named
 * dcc.Store with `dash_clientside.set_props`, the renderer's API for setting props from
 * JavaScript. In benchmarks/bench_browser.py (a box of about 116,000 points of the all-cells
 * scatter), this and WebGL at the screen's pixel ratio brought the server's answer from 3.8 s
 * to 1.55 s after the mouse is released.
 * `plotly_deselect` is left to dcc.Graph (selectedData = null clears the selection); the
 * clientside callback on `selectedData` (explorer.callbacks.SCATTER_IDS_JS) handles it with the
 * same `selectedIds`, exported below, and stays the fallback should the handler not be bound.
 *
 * dcc.Graph binds its handlers once per plot div, after the first plot, so the check below runs
 * until it has seen them (and again when a tab re-mounts the graph).
 */
(function () {
    "use strict";

    // a point's customdata; dcc.Graph's selectedData lacks it when the figure sent customdata
    // as a typed array (explorer.figures.scatter.browser_ids), so it is read from the plotted
    // traces of `gd` then
    function customdataOf(p, gd) {
        if (p.customdata !== undefined && p.customdata !== null) {
            return p.customdata;
        }
        const trace = gd && gd._fullData && gd._fullData[p.curveNumber];
        return trace && trace.customdata && p.pointNumber !== undefined ? trace.customdata[p.pointNumber] : undefined;
    }

    // the ids of a plotly selection event or of dcc.Graph's selectedData, and their total
    function selectedIds(event, max, gd) {
        const out = {ids: [], total: 0};
        const points = (event && event.points) || [];
        for (let i = 0; i < points.length; i++) {
            const p = points[i];
            const cd = customdataOf(p, gd);
            // trace 0 is the highlight trace (explorer.figures.scatter.HIGHLIGHT_TRACE)
            if (p.curveNumber === 0 || cd === undefined || cd === null) {
                continue;
            }
            out.total += 1;
            if (out.ids.length < max) {
                out.ids.push(String(Array.isArray(cd) ? cd[0] : cd));
            }
        }
        return out;
    }

    function bind(holder) {
        const gd = holder.querySelector(".js-plotly-plot");
        if (!gd || !gd._ev || gd.__idsBound === true) {
            return;
        }
        const dccHandlers = gd._ev.listeners("plotly_selected");
        if (dccHandlers.length === 0) {
            return;  // dcc.Graph has not bound its handlers yet
        }
        const store = holder.dataset.idsStore;
        const max = parseInt(holder.dataset.maxIds, 10) || 20000;
        dccHandlers.forEach(function (h) { gd.removeListener("plotly_selected", h); });
        gd.on("plotly_selected", function (event) {
            if (event && window.dash_clientside && window.dash_clientside.set_props) {
                window.dash_clientside.set_props(store, {data: selectedIds(event, max, gd)});
            }
        });
        gd.__idsBound = true;
    }

    function scan() {
        document.querySelectorAll("[data-ids-store]").forEach(bind);
    }

    const dc = window.dash_clientside = window.dash_clientside || {};
    dc.explorer = Object.assign({}, dc.explorer, {selectedIds: selectedIds});
    window.setInterval(scan, 250);
})();
