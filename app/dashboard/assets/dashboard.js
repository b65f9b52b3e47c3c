// The sales dashboard: reads /v1/metrics with the filters kept in the page's URL and draws each
// answer as a chart (plotly.js) and a table. Every number shown is a value of an API answer, or a
// share computed from two of them (said so where it is); each table cell keeps the raw value in
// `data-value`, so what the page shows can be checked against the API.
"use strict";

(() => {
  const ROOT = document.body.dataset.root || "";
  const KEY = "leadstatus.dashboard.key";
  const SCOPE = ["from", "to", "pipeline", "owner", "source", "segment"];
  const CONTROLS = [...SCOPE, "interval", "currency", "period"];
  const DEFAULTS = { interval: "week", period: "month" };
  const COLORS = {
    won: "#1b7f3b", lost: "#b42318", neutral: "#44546a", accent: "#1f5fbf",
    warn: "#a15c00", muted: "#8a94a6", closed: "#1b7f3b", commit: "#1f5fbf",
    best_case: "#6a4fb3", pipeline: "#8a94a6",
  };
  const STATUS_WORDS = { no_decision: "no decision", best_case: "best case" };

  const $ = (id) => document.getElementById(id);
  const words = (code) => STATUS_WORDS[code] || String(code).replaceAll("_", " ");

  // ------------------------------------------------------------------ formatting

  const count = new Intl.NumberFormat("en-US");
  const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });
  const days = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const money = (currency, compact) =>
    new Intl.NumberFormat("en-US", {
      style: "currency", currency, notation: compact ? "compact" : "standard",
      maximumFractionDigits: compact ? 2 : 0,
    });
  const none = "–";
  const fmt = {
    text: (v) => (v == null ? none : String(v)),
    status: (v) => (v == null ? none : words(v)),
    count: (v) => (v == null ? none : count.format(v)),
    rate: (v) => (v == null ? none : percent.format(v)),
    days: (v) => (v == null ? none : `${days.format(v)} d`),
    date: (v) => (v == null ? none : String(v).slice(0, 10)),
  };
  const moneyFmt = (currency) => (v) => (v == null ? none : money(currency).format(Number(v)));

  // ------------------------------------------------------------------ the URL is the state

  function readFilters() {
    const query = new URLSearchParams(location.search);
    const filters = { ...DEFAULTS };
    for (const name of CONTROLS) if (query.get(name)) filters[name] = query.get(name);
    return filters;
  }

  function filtersFromForm() {
    const form = new FormData($("filters"));
    const filters = {};
    for (const name of CONTROLS) {
      const value = String(form.get(name) || "").trim();
      if (value && value !== DEFAULTS[name]) filters[name] = value;
    }
    return filters;
  }

  function showFilters(filters) {
    for (const name of CONTROLS) {
      const control = $(`f-${name}`);
      if (name !== "currency") control.value = filters[name] || "";
    }
  }

  function scopeQuery(filters, extra = {}) {
    const query = new URLSearchParams();
    for (const name of SCOPE) if (filters[name]) query.set(name, filters[name]);
    for (const [name, value] of Object.entries(extra)) query.set(name, value);
    return query;
  }

  // ------------------------------------------------------------------ the API

  class Refusal extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(path, query) {
    const response = await fetch(`${ROOT}${path}?${query}`, {
      headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, Accept: "application/json" },
      cache: "no-store",
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Refusal(response.status, body);
    return body;
  }

  function requests(filters) {
    const scope = (extra) => scopeQuery(filters, extra);
    return {
      summary: ["/v1/metrics/summary", scope()],
      funnel: ["/v1/metrics/funnel", scope()],
      won: ["/v1/metrics/timeseries", scope({ metric: "won", interval: filters.interval })],
      lost: ["/v1/metrics/timeseries", scope({ metric: "lost", interval: filters.interval })],
      winRate: ["/v1/metrics/timeseries", scope({ metric: "win_rate", interval: filters.interval })],
      losses: ["/v1/metrics/loss-reasons", scope()],
      owners: ["/v1/metrics/owners", scope({ sort: "won", order: "desc", limit: "200" })],
      sources: ["/v1/metrics/sources", scope()],
      hygiene: ["/v1/metrics/hygiene", scope()],
      revenue: ["/v1/metrics/revenue", scope()],
      pipelineValue: ["/v1/metrics/pipeline-value", scope()],
      forecast: ["/v1/metrics/forecast", scope({ period: filters.period })],
    };
  }

  // ------------------------------------------------------------------ building blocks

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value == null) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  /** A table of API rows: `columns` are [label, key, format]; each cell keeps its raw value. */
  function table(name, caption, columns, rows) {
    const head = element("tr", {}, ...columns.map(([label, , format]) =>
      element("th", { scope: "col", class: format === fmt.text || format === fmt.status
        || format === fmt.date ? null : "num", text: label })));
    const body = rows.length
      ? rows.map((row) => element("tr", {}, ...columns.map(([, key, format], i) => {
        const value = typeof key === "function" ? key(row) : row[key];
        const attributes = {
          "data-key": typeof key === "function" ? key.name : key,
          "data-value": value == null ? "" : String(value),
          class: format === fmt.text || format === fmt.status || format === fmt.date ? null : "num",
          text: format(value),
        };
        return i === 0 ? element("th", { scope: "row", ...attributes })
          : element("td", attributes);
      })))
      : [element("tr", {}, element("td", { colspan: String(columns.length),
        text: "Nothing in this window." }))];
    return element("table", { "data-table": name },
      element("caption", { text: caption }), element("thead", {}, head),
      element("tbody", {}, ...body));
  }

  /** A panel's place on the page, in a fixed order, before its answers arrive. */
  function panel(id, title) {
    const heading = element("h2", { id: `${id}-title`, text: title });
    const section = element("section", { id, class: "card panel", "aria-labelledby": heading.id,
      "aria-busy": "true" }, heading, element("p", { class: "note", text: "Loading…" }));
    $("figures").append(section);
    return section;
  }

  function note(section, text) {
    section.querySelector(".note").textContent = text;
  }

  /** A chart with its description, and a table view under a disclosure. */
  function figure(section, name, description, traces, layout, tables) {
    const chart = element("div", { class: "chart", "data-chart": name, role: "img",
      "aria-label": description });
    const details = element("details", {},
      element("summary", { text: "Table view" }), ...tables);
    section.append(element("figure", {}, chart, details));
    const layoutAll = {
      margin: { t: 10, r: 10, b: 40, l: 60 },
      font: { family: "system-ui, sans-serif", size: 13, color: "#1f2933" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      legend: { orientation: "h", y: -0.18, traceorder: "normal" }, height: 300, ...layout,
    };
    chart.style.minHeight = `${layoutAll.height}px`;
    whenSeen(chart, () => Plotly.newPlot(chart, traces, layoutAll,
      { displayModeBar: false, responsive: true }).then(() => {
      chart.dataset.drawn = String(Math.round(performance.now()));
    }));
  }

  // plotly.js (4.8 MB) is fetched at once (a preload) but run only once the first figures are
  // in: until then the main thread is the numbers', and the API is asked while it downloads. A
  // chart is drawn once plotly.js runs and the chart is near the screen.
  let figuresIn;
  const firstFigures = new Promise((resolve) => { figuresIn = resolve; });
  const plotlyLoaded = firstFigures.then(() => new Promise((resolve, reject) => {
    if (window.Plotly) return resolve();
    const script = element("script", { src: document.body.dataset.plotly });
    script.addEventListener("load", resolve, { once: true });
    script.addEventListener("error", () => reject(new Error("plotly.js did not load")));
    document.head.append(script);
  }));
  const nearScreen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      nearScreen.unobserve(entry.target);
      entry.target.draw();
    }
  }, { rootMargin: "400px 0px" });

  function whenSeen(chart, draw) {
    chart.draw = () => plotlyLoaded.then(draw);
    nearScreen.observe(chart);
  }

  function kpi(list, name, label, value, format) {
    list.append(element("div", { class: "kpi" },
      element("dt", { text: label }),
      element("dd", { "data-kpi": name, "data-value": value == null ? "" : String(value),
        text: format(value) })));
  }

  // ------------------------------------------------------------------ the panels

  function glance(section, d, currency) {
    section.querySelector(".note").remove();
    const list = element("dl", { class: "kpis" });
    const open = Object.values(d.summary.pipeline).reduce((a, b) => a + b, 0);
    kpi(list, "created", "Leads created", d.summary.created, fmt.count);
    kpi(list, "closed", "Closed", d.summary.closed, fmt.count);
    kpi(list, "win_rate", "Win rate (won of won + lost)", d.summary.win_rate, fmt.rate);
    kpi(list, "conversion_rate", "Conversion (won of every closing)",
      d.summary.conversion_rate, fmt.rate);
    kpi(list, "median_days_to_won", "Median days to won", d.summary.median_days_to_won, fmt.days);
    kpi(list, "reopened", "Reopened", d.summary.reopened, fmt.count);
    kpi(list, "open", "Open deals now", open, fmt.count);
    kpi(list, "stale", "Stale open deals", d.hygiene.stale.stale, fmt.count);
    kpi(list, "nurture_due", "Nurture queue due", d.summary.nurture_due, fmt.count);
    kpi(list, "first_contact_median_days", "Median days to first contact",
      d.hygiene.first_contact.median_days, fmt.days);
    const won = currencyEntry(d.revenue, currency);
    if (won) kpi(list, "won_revenue", `Won revenue (${currency})`, won.won.revenue,
      moneyFmt(currency));
    section.append(list);
  }

  function funnel(section, d) {
    const stages = d.funnel.stages;
    note(section,
      `Leads created in the window, by the stages of ${d.funnel.pipeline} (version `
      + `${d.funnel.version}) they reached; drop-off is the share that did not go on.`);
    const labels = stages.map((s) => words(s.status));
    figure(section, "funnel", "Funnel: leads reaching each stage, with drop-off", [{
      type: "funnel", y: labels, x: stages.map((s) => s.reached),
      text: stages.map((s) => (s.went_on_rate == null ? fmt.count(s.reached)
        : `${fmt.count(s.reached)} · drop-off ${fmt.rate(1 - s.went_on_rate)}`)),
      textinfo: "text", marker: { color: COLORS.accent }, hoverinfo: "y+x",
    }], { margin: { t: 10, r: 10, b: 20, l: 100 } }, [table("funnel", "Funnel stages", [
      ["Stage", "status", fmt.status], ["Reached", "reached", fmt.count],
      ["Went on", "went_on", fmt.count], ["Went-on rate", "went_on_rate", fmt.rate],
      ["Drop-off", function drop_off(s) { return s.went_on_rate == null ? null
        : 1 - s.went_on_rate; }, fmt.rate],
      ["Median days in stage", "median_days_in_status", fmt.days],
      ["p90 days in stage", "p90_days_in_status", fmt.days],
    ], stages)]);
  }

  function overTime(section, d, filters) {
    note(section,
      `Won and lost deals per ${filters.interval}; win rate is won of won + lost.`);
    const starts = d.won.points.map((p) => p.start.slice(0, 10));
    const rows = d.won.points.map((p, i) => ({ start: p.start, won: p.value,
      lost: d.lost.points[i].value, win_rate: d.winRate.points[i].value }));
    figure(section, "over-time", `Won, lost and win rate per ${filters.interval}`, [
      { type: "bar", name: "Won", x: starts, y: rows.map((r) => r.won),
        marker: { color: COLORS.won } },
      { type: "bar", name: "Lost", x: starts, y: rows.map((r) => r.lost),
        marker: { color: COLORS.lost } },
      { type: "scatter", mode: "lines+markers", name: "Win rate", x: starts, yaxis: "y2",
        y: rows.map((r) => r.win_rate), line: { color: COLORS.neutral } },
    ], { barmode: "group", margin: { t: 10, r: 60, b: 40, l: 50 },
      yaxis: { title: { text: "deals" } },
      yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1], dtick: 0.25,
        showgrid: false } },
    [table("over-time", `Closings per ${filters.interval}`, [
      ["Starting", "start", fmt.date], ["Won", "won", fmt.count], ["Lost", "lost", fmt.count],
      ["Win rate", "win_rate", fmt.rate],
    ], rows)]);
  }

  function losses(section, d) {
    const l = d.losses;
    note(section,
      `${fmt.count(l.lost)} deals lost in the window; ${fmt.count(l.no_decision)} closed without `
      + "a decision. Shares are of the lost deals.");
    let running = 0;
    const reasons = l.by_reason.map((r) => {
      running += r.count;
      return { ...r, share: l.lost ? r.count / l.lost : null,
        cumulative: l.lost ? running / l.lost : null };
    });
    figure(section, "loss-reasons", "Pareto chart of loss reasons with the cumulative share", [
      { type: "bar", name: "Lost deals", x: reasons.map((r) => words(r.reason)),
        y: reasons.map((r) => r.count), marker: { color: COLORS.lost } },
      { type: "scatter", mode: "lines+markers", name: "Cumulative share", yaxis: "y2",
        x: reasons.map((r) => words(r.reason)), y: reasons.map((r) => r.cumulative),
        line: { color: COLORS.neutral } },
    ], { margin: { t: 10, r: 60, b: 60, l: 50 },
      yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1.02],
        dtick: 0.25, showgrid: false } },
    [table("loss-reasons", "Loss reasons", [
      ["Reason", "reason", fmt.status], ["Lost deals", "count", fmt.count],
      ["Share", function share(r) { return r.share; }, fmt.rate],
      ["Cumulative share", function cumulative(r) { return r.cumulative; }, fmt.rate],
    ], reasons), table("no-decision", "Closed without a decision, by reason", [
      ["Reason", "reason", fmt.status], ["Deals", "count", fmt.count],
    ], l.no_decision_by_reason)]);
    const pair = element("div", { class: "pair" });
    section.append(pair);
    const half = (name, title, rows, key, color) => {
      const box = element("div", {}, element("h3", { text: title }));
      pair.append(box);
      figure(box, name, title, [{ type: "bar", orientation: "h",
        y: rows.map((r) => words(r[key])).reverse(), x: rows.map((r) => r.count).reverse(),
        marker: { color } }], { height: 60 + 28 * Math.max(rows.length, 2),
        margin: { t: 10, r: 10, b: 30, l: 150 } },
      [table(name, title, [[key === "status" ? "Stage" : "Competitor", key,
        key === "status" ? fmt.status : fmt.text], ["Lost deals", "count", fmt.count]], rows)]);
    };
    half("competitors", "Lost to competitors", l.by_competitor, "competitor", COLORS.warn);
    half("lost-from", "Stage lost from", l.by_from_status, "status", COLORS.neutral);
  }

  /** Grouped horizontal bars for the first 15 owners, the first at the top: traces, layout. */
  function perOwner(rows, bars) {
    const shown = rows.slice(0, 15).reverse();
    return [bars.map(([name, key, color]) => ({ type: "bar", orientation: "h", name,
      y: shown.map((o) => o.owner), x: shown.map((o) => o[key]), marker: { color } })),
    { barmode: "group", height: 80 + 34 * Math.max(shown.length, 2),
      margin: { t: 10, r: 10, b: 40, l: 130 } }];
  }

  function owners(section, d) {
    const items = d.owners.items;
    note(section,
      `${fmt.count(d.owners.total)} owners, most deals won first; win rate is won of won + lost,`
      + " the cycle from creation to won.");
    figure(section, "owners", "Won and lost deals per owner", ...perOwner(items, [
      ["Won", "won", COLORS.won], ["Lost", "lost", COLORS.lost]]), [table("owners", "Rep leaderboard", [
      ["Owner", "owner", fmt.text], ["Leads", "leads", fmt.count], ["Won", "won", fmt.count],
      ["Lost", "lost", fmt.count], ["Win rate", "win_rate", fmt.rate],
      ["Median cycle", "median_cycle_days", fmt.days],
    ], items)]);
  }

  function sources(section, d) {
    const items = d.sources.items;
    note(section,
      "Per source: conversion (won of closed), and the disqualified and dead shares of its "
      + "closings.");
    const names = items.map((s) => words(s.source));
    const bar = (name, key, color) => ({ type: "bar", name, x: names,
      y: items.map((s) => s[key]), marker: { color } });
    figure(section, "sources", "Conversion, disqualified and dead shares per lead source", [
      bar("Conversion", "conversion_rate", COLORS.won),
      bar("Disqualified", "disqualified_rate", COLORS.warn),
      bar("Dead", "dead_rate", COLORS.muted),
    ], { barmode: "group", yaxis: { tickformat: ".0%" } }, [table("sources", "Lead sources", [
      ["Source", "source", fmt.text], ["Leads", "leads", fmt.count],
      ["Closed", "closed", fmt.count], ["Conversion", "conversion_rate", fmt.rate],
      ["Disqualified", "disqualified_rate", fmt.rate], ["Dead", "dead_rate", fmt.rate],
    ], items)]);
  }

  function pipelineNow(section, d) {
    const stale = d.hygiene.stale;
    note(section,
      `Open deals of ${d.hygiene.pipeline} by status; stale ones have sat longer than their `
      + `status allows. Nurture queue: ${fmt.count(d.summary.nurture_due)} closed leads are due `
      + "for a revisit.");
    const rows = stale.by_status;
    const labels = rows.map((r) => words(r.status));
    figure(section, "pipeline-now", "Open and stale deals per open status", [
      { type: "bar", name: "Fresh", x: labels, y: rows.map((r) => r.open - r.stale),
        marker: { color: COLORS.accent } },
      { type: "bar", name: "Stale", x: labels, y: rows.map((r) => r.stale),
        marker: { color: COLORS.warn } },
    ], { barmode: "stack" }, [table("pipeline-now", "Open deals per status", [
      ["Status", "status", fmt.status], ["Open", "open", fmt.count],
      ["Stale", "stale", fmt.count], ["Stale after (days)", "stale_after_days", fmt.count],
    ], rows), table("stale-owners", "Stale deals per owner", [
      ["Owner", "owner", fmt.text], ["Open", "open", fmt.count], ["Stale", "stale", fmt.count],
    ], stale.by_owner)]);
  }

  function periodLabel(start, period) {
    const [year, month] = start.split("-").map(Number);
    return period === "quarter" ? `Q${Math.floor((month - 1) / 3) + 1} ${year}`
      : new Date(Date.UTC(year, month - 1, 1)).toLocaleString("en-US",
        { month: "short", year: "numeric", timeZone: "UTC" });
  }

  function firstContact(section, d) {
    const f = d.hygiene.first_contact;
    note(section, `How long new leads waited in ${words(f.status)} before their first move: `
      + `median ${fmt.days(f.median_days)}, p90 ${fmt.days(f.p90_days)} over `
      + `${fmt.count(f.contacted)} leads; ${fmt.count(f.waiting)} are still waiting.`);
    figure(section, "first-contact", "Median and p90 days to first contact per owner",
      ...perOwner(f.by_owner, [["Median days", "median_days", COLORS.accent],
        ["p90 days", "p90_days", COLORS.muted]]), [
      table("first-contact-owners", "Days to first contact per owner", [
        ["Owner", "owner", fmt.text], ["Contacted", "contacted", fmt.count],
        ["Median", "median_days", fmt.days], ["p90", "p90_days", fmt.days]], f.by_owner),
      table("first-contact-sources", "Days to first contact per source", [
        ["Source", "source", fmt.text], ["Contacted", "contacted", fmt.count],
        ["Median", "median_days", fmt.days], ["p90", "p90_days", fmt.days]], f.by_source)]);
  }

  function currencyEntry(answer, currency) {
    return answer.currencies.find((c) => c.currency === currency) || null;
  }

  function revenue(section, d, currency) {
    section.querySelector("h2").textContent =
      `Revenue and forecast (${currency || "no deals valued"})`;
    note(section,
      "Amounts are never summed across currencies: pick one above. Revenue counts the latest "
      + "closings in the window at the value each had when it closed.");
    if (!currency) return;
    const r = currencyEntry(d.revenue, currency);
    const show = moneyFmt(currency);
    if (r) {
      const outcomes = ["won", "lost", "no_decision"].map((o) => ({ outcome: o, ...r[o] }));
      const list = element("dl", { class: "kpis" });
      kpi(list, "revenue_won", "Won", r.won.revenue, show);
      kpi(list, "average_deal", "Average won deal", r.won.average_deal, show);
      kpi(list, "revenue_lost", "Lost", r.lost.revenue, show);
      kpi(list, "revenue_no_decision", "No decision", r.no_decision.revenue, show);
      section.append(list, element("h3", { text: "Lost revenue by reason" }));
      figure(section, "lost-revenue", `Lost revenue by reason, ${currency}`, [{ type: "bar",
        x: r.lost_by_reason.map((x) => words(x.reason)),
        y: r.lost_by_reason.map((x) => Number(x.revenue)), marker: { color: COLORS.lost } }],
      { height: 260, yaxis: { title: { text: currency } } }, [
        table("revenue", `Revenue by outcome, ${currency}`, [["Outcome", "outcome", fmt.status],
          ["Deals", "deals", fmt.count], ["Revenue", "revenue", show]], outcomes),
        table("lost-revenue", `Lost revenue by reason, ${currency}`, [
          ["Reason", "reason", fmt.status], ["Deals", "deals", fmt.count],
          ["Revenue", "revenue", show]], r.lost_by_reason)]);
    }
    const v = currencyEntry(d.pipelineValue, currency);
    if (v) {
      section.append(element("h3", { text: "Open pipeline value" }));
      const list = element("dl", { class: "kpis" });
      kpi(list, "pipeline_value", "Open value", v.value, show);
      kpi(list, "pipeline_weighted", "Weighted", v.weighted, show);
      kpi(list, "velocity_per_day", "Sales velocity per day", v.velocity.per_day, show);
      section.append(list);
      const labels = v.statuses.map((s) => words(s.status));
      figure(section, "pipeline-value", `Open value and weighted value per status, ${currency}`, [
        { type: "bar", name: "Value", x: labels, y: v.statuses.map((s) => Number(s.value)),
          marker: { color: COLORS.muted } },
        { type: "bar", name: "Weighted", x: labels, y: v.statuses.map((s) => Number(s.weighted)),
          marker: { color: COLORS.accent } },
      ], { barmode: "group", height: 260 }, [table("pipeline-value",
        `Open pipeline per status, ${currency}`, [["Status", "status", fmt.status],
          ["Deals", "deals", fmt.count], ["Value", "value", show],
          ["Weighted", "weighted", show], ["Probability", "probability", fmt.rate],
          ["From", "probability_basis", fmt.text]], v.statuses)]);
    }
    const f = currencyEntry(d.forecast, currency);
    if (f) {
      section.append(element("h3", { text: `Forecast by ${d.forecast.period}` }));
      const periods = f.periods.map((p) => periodLabel(p.start, d.forecast.period));
      const rows = f.periods.map((p) => ({ start: p.start, closed: p.closed.value,
        commit: p.categories.commit.value, best_case: p.categories.best_case.value,
        pipeline: p.categories.pipeline.value, forecast_commit: p.cumulative.commit,
        forecast_best_case: p.cumulative.best_case }));
      const stack = (key) => ({ type: "bar", name: words(key), x: periods,
        y: rows.map((r) => Number(r[key])), marker: { color: COLORS[key] } });
      figure(section, "forecast", `Closed and open deals by expected close, ${currency}`, [
        stack("closed"), stack("commit"), stack("best_case"), stack("pipeline"),
      ], { barmode: "stack", height: 280, xaxis: { type: "category" } }, [table("forecast", `Forecast, ${currency}`, [
        ["Period", "start", fmt.date], ["Closed", "closed", show], ["Commit", "commit", show],
        ["Best case", "best_case", show], ["Pipeline", "pipeline", show],
        ["Commit forecast", "forecast_commit", show],
        ["Best-case forecast", "forecast_best_case", show]], rows)]);
    }
  }

  // ------------------------------------------------------------------ the page

  /** The currency asked for, else the one with the most deals won (then the most open deals). */
  function pickCurrency(d) {
    const wanted = d.filters.currency;
    const deals = new Map();
    for (const c of d.pipelineValue.currencies) deals.set(c.currency, [0, c.deals]);
    for (const c of d.revenue.currencies) deals.set(c.currency, [c.won.deals,
      (deals.get(c.currency) || [0, 0])[1]]);
    const select = $("f-currency");
    select.replaceChildren(...[...deals.keys()].sort().map((c) =>
      element("option", { value: c, text: c })));
    if (wanted && deals.has(wanted)) return (select.value = wanted);
    const best = [...deals.entries()].sort((a, b) => b[1][0] - a[1][0] || b[1][1] - a[1][1]
      || a[0].localeCompare(b[0]))[0];
    return (select.value = best ? best[0] : "");
  }

  /** The window as a manager reads it: whole UTC days, both ends included. */
  function windowText(w) {
    const day = (instant) => new Date(instant).toLocaleDateString("en-GB",
      { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
    const end = new Date(w.to);
    const whole = end.getUTCHours() + end.getUTCMinutes() + end.getUTCSeconds() === 0;
    const last = whole ? new Date(end.getTime() - 86_400_000) : end;
    return `${day(w.from)} to ${day(last)}${whole ? "" : " (to the minute)"}, UTC`;
  }

  function fillChoices(id, values) {
    $(id).replaceChildren(...[...new Set(values)].sort().map((v) => element("option", { value: v })));
  }

  let generation = 0;

  const PANELS = [
    // id, title, the answers it needs, how it draws them
    ["glance", "At a glance", ["summary", "hygiene", "revenue", "pipelineValue"],
      (section, d) => glance(section, d, pickCurrency(d))],
    ["funnel", "Funnel", ["funnel"], funnel],
    ["over-time", "Win rate and closings over time", ["won", "lost", "winRate"], overTime],
    ["losses", "Why deals were lost", ["losses"], losses],
    ["owners", "Rep leaderboard", ["owners"], owners],
    ["sources", "Lead-source quality", ["sources"], sources],
    ["pipeline-now", "Pipeline now", ["hygiene", "summary"], pipelineNow],
    ["first-contact", "Speed to first contact", ["hygiene"], firstContact],
    ["revenue", "Revenue and forecast", ["revenue", "pipelineValue", "forecast"],
      (section, d) => revenue(section, d, pickCurrency(d))],
  ];

  function explain(failure) {
    if (!(failure instanceof Refusal)) {
      return failure instanceof TypeError ? "The service did not answer; try again shortly."
        : "The page could not draw every figure; the table views hold what arrived.";
    }
    return failure.status >= 500 ? `The metrics API could not answer: ${failure.message}`
      : `The metrics API refused these filters: ${failure.message}`;
  }

  /** Every request at once; each panel draws as soon as its own answers are in. */
  async function render(filters) {
    const mine = ++generation;
    const started = performance.now();
    delete document.body.dataset.ready;
    $("progress").textContent = "Loading…";
    const asked = Object.fromEntries(Object.entries(requests(filters)).map(
      ([name, [path, query]]) => [name, api(path, query)]));
    for (const chart of document.querySelectorAll("[data-chart]")) {
      nearScreen.unobserve(chart);
      if (window.Plotly) Plotly.purge(chart);
    }
    $("figures").replaceChildren();
    const drawn = PANELS.map(async ([id, title, needs, draw]) => {
      const section = panel(id, title);
      const answers = await Promise.all(needs.map((name) => asked[name]));
      if (mine !== generation) return;
      const d = Object.fromEntries(needs.map((name, i) => [name, answers[i]]));
      draw(section, { ...d, filters }, filters);
      section.removeAttribute("aria-busy");
    });
    const outcomes = await Promise.allSettled(drawn);
    // After the next frame is painted: the numbers first, then plotly.js runs.
    requestAnimationFrame(() => setTimeout(figuresIn, 0));
    if (mine !== generation) return;
    const refused = outcomes.find((o) => o.status === "rejected");
    if (refused) {
      const refusal = refused.reason;
      if (refusal.status === 401 || refusal.status === 403) return askForKey(refusal.message);
      $("progress").textContent = explain(refusal);
      for (const section of $("figures").querySelectorAll("[aria-busy]")) {
        note(section, "Not available: see the message at the top.");
      }
      return;
    }
    const summary = await asked.summary;
    const w = summary.window;
    fillChoices("owners", (await asked.owners).items.map((o) => o.owner));
    fillChoices("sources", (await asked.sources).items.map((s) => s.source));
    $("progress").textContent = `${windowText(w)}; drawn in `
      + `${Math.round(performance.now() - started)} ms.`;
    document.body.dataset.ready = String(mine);
    document.body.dataset.readyAt = String(Math.round(performance.now()));
  }

  /** The pipeline names, asked for when the field is first used (the list counts every lead). */
  async function loadPipelines() {
    try {
      const pipelines = await api("/v1/pipelines", "");
      fillChoices("pipelines", pipelines.map((p) => p.name));
    } catch {
      // A key with metrics:read alone may not list pipelines; the field still takes a name.
    }
  }

  function apply(filters) {
    const query = new URLSearchParams(filters).toString();
    const target = `${location.pathname}${query ? `?${query}` : ""}`;
    if (target !== `${location.pathname}${location.search}`) history.pushState(null, "", target);
    render(readFilters());
  }

  function askForKey(message) {
    sessionStorage.removeItem(KEY);
    $("filters").hidden = true;
    $("figures").hidden = true;
    $("forget").hidden = true;
    $("key-form").hidden = false;
    $("key-error").textContent = message || "";
    $("progress").textContent = "An API key with metrics:read is needed.";
    $("key").focus();
  }

  function open() {
    $("key-form").hidden = true;
    $("filters").hidden = false;
    $("figures").hidden = false;
    $("forget").hidden = false;
    const filters = readFilters();
    showFilters(filters);
    render(filters);
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    open();
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    apply(filtersFromForm());
  });
  $("filters").addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT" || event.target.type === "date") {
      apply(filtersFromForm());
    }
  });
  $("f-pipeline").addEventListener("focus", loadPipelines, { once: true });
  $("reset").addEventListener("click", () => {
    showFilters(DEFAULTS);
    apply({});
  });
  $("forget").addEventListener("click", () => askForKey("The key is forgotten."));
  window.addEventListener("popstate", () => {
    const filters = readFilters();
    showFilters(filters);
    render(filters);
  });

  if (sessionStorage.getItem(KEY)) open();
  else askForKey("");
})();
