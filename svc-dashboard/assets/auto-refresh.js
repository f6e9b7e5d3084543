// auto-refresh: keeps a region up to date by fetching an HTML fragment every few seconds
// and swapping it in.
//
//   <div data-controller="auto-refresh"
//        data-auto-refresh-url-value="/svc/dashboard/fragments/stats"
//        data-auto-refresh-interval-value="5">
//     <p aria-live="polite" data-auto-refresh-target="status"></p>
//     <div data-auto-refresh-target="content">…server-rendered fragment…</div>
//   </div>
//
// The URL comes from the server with the shell's base path, so it works through the shell
// and standalone. Polling pauses while the tab is hidden and resumes (at once) when it is
// visible again. On an error the delay doubles each time, up to max-interval (60 s), and
// drops back to the interval after the next success. The in-flight request is aborted on
// disconnect. The content region is aria-busy while a request runs; the polite status only
// speaks when something changes (a failure, the recovery), never on every refresh.
import { Controller } from "@hotwired/stimulus";

export default class extends Controller {
  static targets = ["content", "status"];
  static values = {
    url: String,
    interval: { type: Number, default: 5 },
    maxInterval: { type: Number, default: 60 },
  };

  connect() {
    this.failures = 0;
    this.timer = null;
    this.request = null;
    this.onVisibilityChange = () => this.visibilityChanged();
    document.addEventListener("visibilitychange", this.onVisibilityChange);
    this.setState("idle");
    if (!document.hidden) this.schedule(this.baseDelay());
  }

  disconnect() {
    document.removeEventListener("visibilitychange", this.onVisibilityChange);
    this.stop();
  }

  visibilityChanged() {
    if (document.hidden) {
      this.stop();
      this.setState("paused");
    } else {
      this.refresh();
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.request) {
      this.request.abort();
      this.request = null;
    }
    this.setBusy(false);
  }

  baseDelay() {
    return Math.max(1, this.intervalValue) * 1000;
  }

  // The delay before the next request: the interval, doubled per consecutive failure,
  // capped at max-interval.
  nextDelay() {
    const base = this.baseDelay();
    const cap = Math.max(base, this.maxIntervalValue * 1000);
    return this.failures === 0 ? base : Math.min(base * 2 ** this.failures, cap);
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), ms);
  }

  async refresh() {
    clearTimeout(this.timer);
    this.timer = null;
    if (document.hidden || !this.element.isConnected) return;
    if (this.request) this.request.abort();
    const request = new AbortController();
    this.request = request;
    this.setBusy(true);
    try {
      const response = await fetch(this.urlValue, {
        signal: request.signal,
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const html = await response.text();
      if (request.signal.aborted) return;
      this.contentTarget.innerHTML = html;
      // Announce the recovery once; clear the message on the next success (clearing a
      // live region says nothing).
      this.announce(this.failures > 0 ? "Live figures are updating again." : "");
      this.failures = 0;
      this.setState("ok");
    } catch (error) {
      if (request.signal.aborted) return;
      this.failures += 1;
      const seconds = Math.round(this.nextDelay() / 1000);
      // Speak on the first failure only; later ones just wait longer.
      if (this.failures === 1) {
        this.announce(`Live figures could not be refreshed; retrying in ${seconds} seconds.`);
      }
      this.setState("error");
    } finally {
      if (this.request === request) {
        this.request = null;
        this.setBusy(false);
      }
    }
    if (!request.signal.aborted && this.element.isConnected) this.schedule(this.nextDelay());
  }

  setBusy(busy) {
    if (!this.hasContentTarget) return;
    if (busy) this.contentTarget.setAttribute("aria-busy", "true");
    else this.contentTarget.removeAttribute("aria-busy");
  }

  setState(state) {
    this.element.dataset.autoRefreshState = state;
    this.element.dataset.autoRefreshFailures = String(this.failures);
  }

  announce(text) {
    if (this.hasStatusTarget && this.statusTarget.textContent !== text) {
      this.statusTarget.textContent = text;
    }
  }
}
