// fragment-loader: the shell's Stimulus controller that makes server-rendered fragments feel
// like a single-page app. No build step: an ES module loaded through the import map.
//
// It relies on the page DOM the shell renders (shell/src/views.rs, `page_template`):
//   <body data-controller="fragment-loader" data-fragment-loader-registry-value="/registry.json">
//   targets: main (<main data-section>), chrome (header slots), progress, announcer;
//   optional data-fragment-loader-timeout-value (ms, default 8000); in the shell's --dev
//   only, data-fragment-loader-dev-events-value (the dev loop's event stream, see below).
// Every URL it pushes onto the history is a section path (plus query) that the server also
// renders as a full page, so a reload or a deep link never shows a bare fragment.
//
// Flow: a click on a section link -> fetch the section's fragments in parallel (header
// x-mf-loader: 1) -> load the services' CSS and controllers once -> swap them into <main>
// -> pushState, title, aria-current, focus, announce. Forms inside fragments are posted
// with fetch: 422 is swapped into the form's slot, a redirect navigates with the loader.
//
// Slot modes (the registry's `mode`): an async slot is fetched and swapped like any other
// here (on the server-rendered page a small inline script moved it into its placeholder). A
// lazy slot is a placeholder (`data-fragment-status="lazy"`) until it comes near the
// viewport: then it is fetched (IntersectionObserver), with the same timeout, error state and
// announcement as a swap. Its link (to the section's page showing it) loads it in place.
import { Controller } from "@hotwired/stimulus";
// boot.js starts Stimulus once as window.Stimulus; import it first so the app exists. The
// import map names it (its URL carries its content hash), so this is the page's own instance.
import { registerControllers } from "@mosaic/boot";

const LOADER_HEADERS = { "x-mf-loader": "1" };
// A form post also asks the shell to answer a re-rendered form (422 and other 4xx) as 200
// with the real status in x-mf-form-status: Chromium logs every 4xx fetch as a console error.
const FORM_HEADERS = { ...LOADER_HEADERS, "x-mf-form": "1" };
const TIMEOUT_MS = 8000; // a fetch that takes longer shows the error state (timeout value)
const PROGRESS_DELAY_MS = 100; // fast swaps never flash the progress bar
const CACHE_ENTRIES = 24; // fragment answers kept for Back/Forward
const CSS_WAIT_MS = 3000; // show the fragment even if a stylesheet never loads
const STAND_IN_HEADER = "x-mf-status"; // the shell answered for a failed service (shell/src/slot.rs)
const LAZY_MARGIN = "200px"; // a lazy slot is fetched this close to the viewport
const EXPAND_PARAM = "mf-slot"; // the server's "show this lazy slot" query, never forwarded
const LAZY_SELECTOR = '.slot[data-fragment-mode="lazy"][data-fragment-status="lazy"]';

export default class FragmentLoader extends Controller {
  static targets = ["main", "chrome", "progress", "announcer"];
  static values = { registry: String, timeout: { type: Number, default: TIMEOUT_MS }, devEvents: String };

  initialize() {
    this.registry = null;
    this.pending = null; // AbortController of the visit or submit in flight
    this.cache = new Map(); // fragment URL -> HTML, oldest first
    this.onClick = this.onClick.bind(this);
    this.onSubmit = this.onSubmit.bind(this);
    this.onPopState = this.onPopState.bind(this);
    this.onScroll = this.onScroll.bind(this);
  }

  connect() {
    this.brand = this.findBrand();
    this.ready = this.loadRegistry();
    this.element.addEventListener("click", this.onClick);
    this.element.addEventListener("submit", this.onSubmit);
    window.addEventListener("popstate", this.onPopState);
    window.addEventListener("scroll", this.onScroll, { passive: true });
    // We restore scroll positions ourselves; the server-rendered first page becomes an
    // entry the loader knows how to come back to.
    history.scrollRestoration = "manual";
    const section = this.hasMainTarget ? this.mainTarget.dataset.section : undefined;
    history.replaceState({ ...history.state, mf: true, section, scroll: window.scrollY }, "");
    this.renderedPath = location.pathname + location.search;
    this.observeLazy(this.element);
    if (this.devEventsValue) this.listenForRestarts();
  }

  disconnect() {
    this.devEvents?.close();
    this.element.removeEventListener("click", this.onClick);
    this.element.removeEventListener("submit", this.onSubmit);
    window.removeEventListener("popstate", this.onPopState);
    window.removeEventListener("scroll", this.onScroll);
    this.lazyObserver?.disconnect();
    this.pending?.abort();
  }

  // The registry (the article's remoteEndpoints) is read at run time. Until it is here, or
  // if it cannot be read, links and forms simply work by full page loads.
  async loadRegistry() {
    try {
      const response = await fetch(this.registryValue || "/registry.json", {
        headers: LOADER_HEADERS,
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.registry = await response.json();
      if (this.registry.brand) this.brand = this.registry.brand;
    } catch (error) {
      console.warn("fragment-loader: no registry, falling back to full page loads", error);
    }
  }

  findBrand() {
    const parts = document.title.split(" · ");
    if (parts.length > 1) return parts[parts.length - 1];
    return document.querySelector(".brand")?.textContent.trim() || "";
  }

  // The section a same-origin path shows ("/" is the default section), or undefined.
  sectionFor(pathname) {
    const sections = this.registry?.sections || [];
    const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
    if (path === "/") return sections.find((s) => s.id === this.registry.default_section);
    return sections.find((s) => s.path === path);
  }

  // ---- Navigation ------------------------------------------------------------------------

  onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.hasAttribute("download")) return;
    const lazy = link.closest(LAZY_SELECTOR);
    if (lazy) {
      event.preventDefault(); // the placeholder's link: load the slot in place
      return this.loadLazy(lazy);
    }
    if (link.target && link.target !== "_self") return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !this.sectionFor(url.pathname)) return;
    // An anchor on the same page stays a plain jump.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    performance.mark("mf:click");
    this.visit(url, { push: true, measure: true });
  }

  onPopState(event) {
    const state = event.state;
    if (!state?.mf) return; // an entry made by someone else (e.g. a #hash jump)
    clearTimeout(this.scrollTimer); // a pending save would write into the new entry
    if (this.renderedPath === location.pathname + location.search) {
      return window.scrollTo(0, state.scroll || 0); // only the #hash changed
    }
    this.visit(new URL(location.href), { push: false, scroll: state.scroll || 0, fromHistory: true });
  }

  // Keeps the current entry's scroll position in its history state, so Back and Forward
  // can put it back (debounced: browsers throttle replaceState).
  onScroll() {
    clearTimeout(this.scrollTimer);
    this.scrollTimer = setTimeout(() => this.saveScroll(), 150);
  }

  saveScroll() {
    if (history.state?.mf) history.replaceState({ ...history.state, scroll: window.scrollY }, "");
  }

  // Shows the section of `url` in <main>. `push` adds a history entry (a plain visit);
  // from Back/Forward the entry exists already and `scroll` is where the user was.
  async visit(url, { push = true, scroll = 0, fromHistory = false, measure = false } = {}) {
    await this.ready;
    let section = this.sectionFor(url.pathname);
    if (!section || !this.hasMainTarget) return location.assign(url.href);
    // A slot without a URL is a service whose manifest the shell did not know yet when the
    // registry was read: read it again (the service may be up by now). Still unknown: load
    // the page, which shows what a full load shows (the "unavailable" box).
    if (section.slots.some((slot) => !slot.url)) {
      await this.loadRegistry();
      section = this.sectionFor(url.pathname) || section;
      if (section.slots.some((slot) => !slot.url)) return location.assign(url.href);
    }
    const signal = this.begin();
    if (push) this.saveScroll();
    const urls = section.slots.map((slot) => this.fragmentUrl(slot.url, url.search));
    try {
      const lazy = (slot) => slot.mode === "lazy";
      const cached = fromHistory && urls.every((u, i) => lazy(section.slots[i]) || this.cache.has(u));
      const results = cached
        ? section.slots.map((slot, i) => (lazy(slot) ? { slot, lazy: true } : { slot, ok: true, html: this.cache.get(urls[i]) }))
        : await Promise.all(
            section.slots.map((slot, i) => (lazy(slot) ? { slot, lazy: true } : this.fetchSlot(slot, urls[i], signal)))
          );
      if (superseded(signal)) return; // another click came meanwhile
      await this.ensureAssets(section.slots.map((slot) => slot.service));
      if (superseded(signal)) return;
      const path = url.pathname + url.search + url.hash;
      const state = { mf: true, section: section.id, scroll: 0 };
      if (push && path === location.pathname + location.search + location.hash) {
        history.replaceState(state, "", path); // the same page again: refresh, no new entry
      } else if (push) {
        history.pushState(state, "", path);
      }
      this.render(section, results, () => this.visit(url, { push: false, scroll }));
      this.restoreScroll(url, scroll);
      if (measure) {
        // Click-to-swap time, read by the browser tests through the Performance API.
        performance.mark("mf:swap");
        performance.measure("mf:navigation", "mf:click", "mf:swap");
      }
    } catch (error) {
      if (!superseded(signal)) console.warn("fragment-loader: navigation failed", error);
    } finally {
      this.end(signal);
    }
  }

  // The fragment URL with the page's query string passed on (e.g. ?plan=pro).
  fragmentUrl(base, search) {
    const url = new URL(base, location.href);
    new URLSearchParams(search).forEach((value, key) => {
      if (key !== EXPAND_PARAM) url.searchParams.set(key, value);
    });
    return url.href;
  }

  // Fetches one slot's fragment. When the service failed, the shell answers what the full
  // page would show instead (its last good copy, its fallback, or the "unavailable" box,
  // with a Retry link to the section) and says which in x-mf-status: that becomes
  // { ok: true, html, status }. Any other failure (network, non-2xx, timeout) becomes
  // { ok: false, reason }; only an abort by a newer request throws.
  async fetchSlot(slot, url, signal) {
    const direct = this.registry.services?.[slot.service]?.direct;
    if (!slot.url) return { slot, ok: false, reason: "the service is not available yet" };
    try {
      const response = await fetch(url, {
        headers: LOADER_HEADERS,
        signal,
        // Direct mode: the service's own origin answers CORS for the shell; no cookies go there.
        ...(direct ? { mode: "cors", credentials: "omit" } : { credentials: "same-origin" }),
      });
      const standIn = response.headers.get(STAND_IN_HEADER);
      if (!response.ok && !standIn) return { slot, ok: false, reason: `the service answered ${response.status}` };
      const html = await response.text();
      if (isDocument(html)) return { slot, ok: false, reason: "the service answered a whole page" };
      if (!standIn) this.remember(url, html); // Back and Forward ask again for a stand-in
      return { slot, ok: true, html, status: standIn || "ok" };
    } catch (error) {
      if (signal.reason?.name === "TimeoutError") return { slot, ok: false, reason: "the service took too long" };
      if (signal.aborted) throw error;
      return { slot, ok: false, reason: "the network failed" };
    }
  }

  remember(url, html) {
    this.cache.delete(url);
    this.cache.set(url, html);
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value);
  }

  // Builds the same slot wrappers as the server and swaps them in, then updates the title,
  // the navigation, focus and the announcer.
  render(section, results, retry) {
    const main = this.mainTarget;
    const url = section.path;
    main.dataset.section = section.id;
    this.renderedPath = location.pathname + location.search;
    main.replaceChildren(
      ...results.map(({ slot, ok, html, reason, status, lazy }) => {
        if (lazy) return lazyPlaceholder(slot, url);
        const wrapper = document.createElement("div");
        wrapper.className = "slot";
        wrapper.dataset.slot = `${slot.service}/${slot.fragment}`;
        wrapper.dataset.fragmentStatus = ok ? status || "ok" : "unavailable";
        if (ok) wrapper.innerHTML = html;
        else wrapper.append(this.errorBox(`${slot.title} could not be loaded: ${reason}.`, retry));
        return wrapper;
      })
    );
    document.title = this.brand ? `${section.title} · ${this.brand}` : section.title;
    for (const link of document.querySelectorAll("header nav a[href]")) {
      const current = this.sectionFor(new URL(link.href, location.href).pathname) === section;
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const failed = results.filter((r) => !r.lazy && (!r.ok || r.status === "unavailable")).length;
    this.observeLazy(main);
    this.focusIn(main);
    // A fragment may say what to announce instead (a one-time "Your changes are saved.").
    const own = main.querySelector("[data-mf-announce]")?.dataset.mfAnnounce;
    this.announce(failed ? `${section.title} loaded with ${failed} part(s) unavailable` : own || `${section.title} loaded`);
  }

  restoreScroll(url, scroll) {
    const anchor = url.hash && document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (anchor) anchor.scrollIntoView();
    else window.scrollTo(0, scroll);
  }

  // ---- Forms -----------------------------------------------------------------------------

  onSubmit(event) {
    const form = event.target;
    const slot = form.closest?.(".slot[data-slot]");
    if (event.defaultPrevented || !slot || !this.registry) return;
    const submitter = event.submitter;
    const method = (submitter?.getAttribute("formmethod") || form.getAttribute("method") || "get").toLowerCase();
    const target = submitter?.getAttribute("formtarget") || form.getAttribute("target");
    const action = new URL(submitter?.getAttribute("formaction") || form.getAttribute("action") || location.href, location.href);
    if ((target && target !== "_self") || action.origin !== location.origin || method === "dialog") return;
    const data = new FormData(form, submitter);
    if (method === "get") {
      if (!this.sectionFor(action.pathname)) return;
      event.preventDefault();
      action.search = new URLSearchParams(data).toString();
      return this.visit(action, { push: true });
    }
    event.preventDefault();
    const multipart = (submitter?.getAttribute("formenctype") || form.enctype) === "multipart/form-data";
    this.submit(form, submitter, slot, action, multipart ? data : new URLSearchParams(data));
  }

  async submit(form, submitter, slot, action, body) {
    const signal = this.begin();
    const retry = () => form.requestSubmit(submitter || undefined);
    try {
      const response = await fetch(action, {
        method: "POST",
        body,
        headers: FORM_HEADERS,
        credentials: "same-origin",
        signal,
      });
      const status = Number(response.headers.get("x-mf-form-status")) || response.status;
      // fetch followed the 303: the server says where to go next. Anything the user sees
      // may have changed (a sign-in), so drop the cache and refresh the header slots.
      if (response.redirected) {
        this.cache.clear();
        const to = new URL(response.url);
        if (to.origin !== location.origin || !this.sectionFor(to.pathname)) return location.assign(to.href);
        this.end(signal);
        await Promise.all([this.visit(to, { push: true }), this.refreshChrome()]);
        return;
      }
      const html = await response.text();
      const htmlAnswer = (response.headers.get("content-type") || "").includes("text/html") && !isDocument(html);
      // 2xx, or 422 and other 4xx with a fragment: the re-rendered form (inline errors).
      const ok = status >= 200 && status < 300;
      if (htmlAnswer && (ok || (status >= 400 && status < 500))) {
        if (ok) this.cache.clear();
        const service = slot.dataset.slot.split("/")[0];
        await this.ensureAssets([service]);
        slot.innerHTML = html;
        slot.dataset.fragmentStatus = "ok";
        // The form's error summary, else its first invalid field, else its heading.
        const summary = slot.querySelector("[data-error-summary]");
        const invalid = summary || slot.querySelector('[aria-invalid="true"]');
        if (invalid) invalid.focus();
        else this.focusIn(slot);
        // A focused summary (role=alert) speaks for itself.
        if (!summary) this.announce(ok ? "Saved" : "Please correct the highlighted fields");
        if (ok) await this.refreshChrome();
        return;
      }
      throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      if (superseded(signal)) return;
      const why = signal.aborted ? "the server took too long" : "the server could not take it";
      slot.querySelector(":scope > [data-loader-error]")?.remove();
      slot.prepend(this.errorBox(`Your form was not sent: ${why}.`, retry));
      this.announce("Your form was not sent");
    } finally {
      this.end(signal);
    }
  }

  // Re-fetches the header slots (e.g. the accounts user menu) after a form changed who is
  // signed in, so the header shows it without a reload.
  async refreshChrome() {
    await Promise.all(
      (this.registry?.chrome || []).map(async (entry) => {
        const slot = this.chromeTargets.find((el) => el.dataset.slot === `${entry.service}/${entry.fragment}`);
        if (!slot || slot.matches(LAZY_SELECTOR)) return;
        const result = await this.fetchSlot(entry, this.fragmentUrl(entry.url, ""), AbortSignal.timeout(TIMEOUT_MS));
        // Keep the old menu rather than an error or a stand-in in the header.
        if (!result.ok || result.status !== "ok") return;
        await this.ensureAssets([entry.service]);
        slot.innerHTML = result.html;
      })
    );
  }

  // ---- Lazy slots ------------------------------------------------------------------------

  // Watches the lazy placeholders under `root`: each is loaded once it comes within
  // LAZY_MARGIN of the viewport (at once where IntersectionObserver is missing).
  observeLazy(root) {
    const placeholders = root.querySelectorAll(LAZY_SELECTOR);
    if (!placeholders.length) return;
    if (!("IntersectionObserver" in window)) return placeholders.forEach((p) => this.loadLazy(p));
    this.lazyObserver ??= new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          this.lazyObserver.unobserve(entry.target);
          this.loadLazy(entry.target);
        }
      },
      { rootMargin: LAZY_MARGIN }
    );
    placeholders.forEach((p) => this.lazyObserver.observe(p));
  }

  // Fetches a lazy slot's fragment into its placeholder, as a swap would: the timeout, the
  // error box with Retry, the announcement.
  async loadLazy(placeholder) {
    if (placeholder.hasAttribute("aria-busy")) return; // already on its way
    this.lazyObserver?.unobserve(placeholder);
    placeholder.setAttribute("aria-busy", "true");
    await this.ready;
    const [service, fragment] = placeholder.dataset.slot.split("/");
    let entry = this.slotEntry(service, fragment);
    if (this.registry && !entry?.url) {
      await this.loadRegistry();
      entry = this.slotEntry(service, fragment);
    }
    if (!entry) return location.assign(placeholder.querySelector("a[href]")?.href || location.href);
    const chrome = placeholder.dataset.fragmentLoaderTarget === "chrome";
    const timeout = this.timeoutValue > 0 ? this.timeoutValue : TIMEOUT_MS;
    const url = this.fragmentUrl(entry.url || "", chrome ? "" : location.search);
    const result = await this.fetchSlot(entry, url, AbortSignal.timeout(timeout));
    if (!placeholder.isConnected) return; // another section replaced it meanwhile
    placeholder.removeAttribute("aria-busy");
    placeholder.classList.remove("slot--pending");
    placeholder.removeAttribute("id");
    if (!result.ok) {
      placeholder.dataset.fragmentStatus = "unavailable";
      placeholder.replaceChildren(
        this.errorBox(`${entry.title} could not be loaded: ${result.reason}.`, () => {
          placeholder.dataset.fragmentStatus = "lazy";
          this.loadLazy(placeholder);
        })
      );
      return this.announce(`${entry.title} could not be loaded`);
    }
    await this.ensureAssets([service]);
    placeholder.innerHTML = result.html;
    placeholder.dataset.fragmentStatus = "ok";
    this.announce(`${entry.title} loaded`);
  }

  // The registry's entry (a section slot or a chrome entry) for service/fragment.
  slotEntry(service, fragment) {
    const all = [...(this.registry?.sections || []).flatMap((s) => s.slots), ...(this.registry?.chrome || [])];
    return all.find((slot) => slot.service === service && slot.fragment === fragment);
  }

  // ---- The dev loop (the shell's --dev only) ---------------------------------------------

  // The launcher's --watch restarted a team after a save: the shell sends its name as a
  // server-sent event, and its fragments on this page are fetched again (no reload, the
  // rest of the page and its state stay). EventSource reconnects by itself.
  listenForRestarts() {
    this.devEvents = new EventSource(this.devEventsValue);
    this.devEvents.addEventListener("restarted", (event) => this.reloadService(event.data));
    // data-dev-events="open" on <body>: the page listens (tests and curious eyes read it).
    this.devEvents.addEventListener("open", () => (this.element.dataset.devEvents = "open"));
    this.devEvents.addEventListener("error", () => (this.element.dataset.devEvents = "closed"));
  }

  // Fetches the fragments of `service` ("*": every service) shown on this page again, after
  // reading the registry again (the team's version and assets may have changed).
  async reloadService(service) {
    await this.ready;
    this.cache.clear();
    await this.loadRegistry();
    const section = this.sectionFor(location.pathname);
    const entries = [...(section?.slots || []), ...(this.registry?.chrome || [])];
    await Promise.all(
      entries
        .filter((entry) => service === "*" || entry.service === service)
        .map((entry) => this.reloadSlot(entry))
    );
    this.element.dispatchEvent(new CustomEvent("mf:dev-reloaded", { bubbles: true, detail: { service } }));
  }

  async reloadSlot(entry) {
    const key = `${entry.service}/${entry.fragment}`;
    const slot = [...this.element.querySelectorAll("[data-slot]")].find((el) => el.dataset.slot === key);
    if (!slot) return;
    const result = await this.fetchSlot(entry, this.fragmentUrl(entry.url, location.search), AbortSignal.timeout(TIMEOUT_MS));
    if (!result.ok) return; // keep what is shown; the team's log says what went wrong
    await this.ensureAssets([entry.service]);
    slot.innerHTML = result.html;
    slot.dataset.fragmentStatus = "ok";
  }

  // ---- Assets on demand ------------------------------------------------------------------

  // Adds the services' stylesheets (once, awaiting their load) and registers their Stimulus
  // controllers (once, through boot.js) before their fragments show.
  async ensureAssets(serviceNames) {
    const jobs = [];
    for (const name of new Set(serviceNames)) {
      const service = this.registry.services?.[name];
      if (!service) continue;
      for (const href of service.css || []) jobs.push(ensureStylesheet(href));
      if (service.controllers?.length) jobs.push(registerControllers(service.controllers));
    }
    await Promise.all(jobs);
  }

  // ---- States ----------------------------------------------------------------------------

  // Starts a visit or submit: aborts the one in flight, marks <main> busy and shows the
  // progress bar if it lasts. Returns the new request's signal (aborted on timeout too).
  begin() {
    this.pending?.abort();
    const controller = new AbortController();
    this.pending = controller;
    const timeout = this.timeoutValue > 0 ? this.timeoutValue : TIMEOUT_MS;
    controller.timer = setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), timeout);
    if (this.hasMainTarget) this.mainTarget.setAttribute("aria-busy", "true");
    clearTimeout(this.progressTimer);
    this.progressTimer = setTimeout(() => {
      if (this.hasProgressTarget) this.progressTarget.hidden = false;
    }, PROGRESS_DELAY_MS);
    return controller.signal;
  }

  end(signal) {
    if (!this.pending || this.pending.signal !== signal) return; // a newer request owns the state
    clearTimeout(this.pending.timer);
    this.pending = null;
    clearTimeout(this.progressTimer);
    if (this.hasProgressTarget) this.progressTarget.hidden = true;
    if (this.hasMainTarget) this.mainTarget.removeAttribute("aria-busy");
  }

  errorBox(message, retry) {
    const box = document.createElement("div");
    box.className = "alert alert--danger";
    box.setAttribute("role", "alert");
    box.dataset.loaderError = "";
    const text = document.createElement("p");
    text.textContent = message;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn--secondary";
    button.textContent = "Retry";
    button.addEventListener("click", () => retry());
    box.append(text, button);
    return box;
  }

  // Moves focus to the first heading of new content, so keyboard and screen reader users
  // start there (preventScroll: scrolling is restored separately).
  focusIn(container) {
    const heading = container.querySelector("h1, h2, h3") || container;
    if (!heading.hasAttribute("tabindex") && heading !== this.mainTarget) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }

  announce(message) {
    if (!this.hasAnnouncerTarget) return;
    // Clear first so the same message twice is still announced.
    this.announcerTarget.textContent = "";
    requestAnimationFrame(() => (this.announcerTarget.textContent = message));
  }
}

// A lazy slot's placeholder as the server writes it (shell/src/views.rs, `placeholder`): the
// reserved box (its height from the page's style) and a link to the section's page showing it.
function lazyPlaceholder(slot, sectionPath) {
  const wrapper = document.createElement("div");
  wrapper.className = "slot slot--pending";
  wrapper.dataset.slot = `${slot.service}/${slot.fragment}`;
  wrapper.dataset.fragmentMode = "lazy";
  wrapper.dataset.fragmentStatus = "lazy";
  const link = document.createElement("a");
  link.className = "slot__placeholder";
  link.href = `${sectionPath}?${EXPAND_PARAM}=${wrapper.dataset.slot}`;
  link.textContent = `Show ${slot.title}`;
  wrapper.append(link);
  return wrapper;
}

// Whether a request was aborted because a newer one replaced it (not by its timeout).
function superseded(signal) {
  return signal.aborted && signal.reason?.name !== "TimeoutError";
}

// A fragment is never a whole document; a proxy's error page may be.
function isDocument(html) {
  return /^\s*(<!doctype|<html[\s>])/i.test(html);
}

// Adds <link rel="stylesheet" href> once and resolves when it loaded (or failed, or after
// CSS_WAIT_MS), so a fragment never shows unstyled. Stylesheet URLs carry their content hash
// (?v=): the same file at another hash (a deploy, the dev loop) is the older copy, removed
// once the new one has loaded, so none of its rules linger.
function ensureStylesheet(href) {
  const wanted = new URL(href, location.href);
  const links = [...document.querySelectorAll('link[rel="stylesheet"]')];
  if (links.some((link) => link.href === wanted.href)) return Promise.resolve();
  const older = links.filter((link) => {
    const url = new URL(link.href, location.href);
    return url.origin === wanted.origin && url.pathname === wanted.pathname;
  });
  return new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = wanted.href;
    link.addEventListener("load", () => resolve(older.forEach((old) => old.remove())), { once: true });
    link.addEventListener("error", resolve, { once: true });
    setTimeout(resolve, CSS_WAIT_MS);
    document.head.append(link);
  });
}

window.Stimulus.register("fragment-loader", FragmentLoader);
