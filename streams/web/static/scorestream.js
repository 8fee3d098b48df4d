// Scorestream pages, live without reloads. The server renders every page; this script
// listens to /api/stream, fetches the page again when an event concerns it, swaps its
// live regions ([data-live]) and slides leaderboard rows to their new places (FLIP).
// TV mode (?tv=1) also cycles through the windows or teams. No framework, no build step.
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const indicator = document.getElementById("live");
  const url = new URL(location.href);
  let running = false;
  let again = false;

  document.querySelectorAll("form.controls select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  if (!page) return;

  function concerns(kind, data) {
    const { window: shown, team, rep } = body.dataset;
    if (kind === "alert") return page === "alerts" || (page === "rep" && data.rep_id === rep);
    if (page === "leaderboard") return data.window === shown && (!team || data.team_id === team);
    if (page === "team") return data.window === shown && data.team_id === team;
    if (page === "rep") return data.rep_id === rep;
    return false;
  }

  // One fetch at a time; events during it ask for one more afterwards.
  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (response.redirected || response.status === 401) {
        location.reload(); // signed out: let the server show the sign-in form
        return;
      }
      if (response.ok) swap(new DOMParser().parseFromString(await response.text(), "text/html"));
    } catch (error) {
      // The server is away for a moment; the next event (or reconnect) tries again.
    } finally {
      running = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function rowTops() {
    const tops = new Map();
    document.querySelectorAll("[data-board] tr[data-rep]").forEach((row) => {
      tops.set(row.dataset.rep, { top: row.getBoundingClientRect().top, score: row.dataset.score });
    });
    return tops;
  }

  function swap(fresh) {
    const before = rowTops();
    document.querySelectorAll("[data-live]").forEach((region) => {
      const next = fresh.querySelector(`[data-live="${region.dataset.live}"]`);
      if (next) region.innerHTML = next.innerHTML;
    });
    Object.assign(body.dataset, fresh.body.dataset);
    document.title = fresh.title;
    document.querySelectorAll("[data-board] tr[data-rep]").forEach((row) => {
      const old = before.get(row.dataset.rep);
      if (!old) {
        row.classList.add("arrived");
        return;
      }
      const dy = old.top - row.getBoundingClientRect().top;
      if (Math.abs(dy) > 1) {
        row.classList.add(dy > 0 ? "rose" : "fell");
        row.animate(
          [{ transform: `translateY(${dy}px)` }, { transform: "translateY(0)" }],
          { duration: 800, easing: "cubic-bezier(.2,.8,.2,1)" },
        );
      } else if (old.score !== row.dataset.score) {
        row.classList.add("changed");
      }
    });
  }

  function connect() {
    const source = new EventSource("/api/stream");
    let opened = false;
    source.addEventListener("open", () => {
      indicator.classList.add("on");
      if (opened) refresh(); // back after a drop: catch up on what was missed
      opened = true;
    });
    source.addEventListener("error", () => {
      indicator.classList.remove("on");
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
    for (const kind of ["scorecard", "alert"]) {
      source.addEventListener(kind, (event) => {
        if (concerns(kind, JSON.parse(event.data))) refresh();
      });
    }
  }

  function cycle() {
    const byTeam = body.dataset.cycle === "teams";
    const key = byTeam ? "team" : "window";
    const choices = byTeam
      ? ["", ...body.dataset.teams.split(",").filter(Boolean)]
      : body.dataset.windows.split(",").filter(Boolean);
    if (choices.length < 2) return;
    let at = Math.max(0, choices.indexOf(url.searchParams.get(key) || (byTeam ? "" : "30d")));
    setInterval(() => {
      at = (at + 1) % choices.length;
      url.searchParams.set(key, choices[at]);
      history.replaceState(null, "", url);
      refresh();
    }, Number(body.dataset.every) * 1000);
    // A TV has no one to click "full screen" often: any key or click asks for it.
    const full = () => document.documentElement.requestFullscreen?.().catch(() => {});
    document.addEventListener("click", full);
    document.addEventListener("keydown", full);
  }

  connect();
  if ("tv" in body.dataset) cycle();
})();
