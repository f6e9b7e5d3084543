// status-refresh: the admin port's status page, refreshed in place. Every five seconds it
// fetches the page again and swaps the body target's content for the new one, so the
// figures move without a reload (and the page stays whole with JavaScript off: its
// "Refresh" link reloads it). A failed fetch keeps the last figures and says so.
import { Controller } from "@hotwired/stimulus";

export default class extends Controller {
  static targets = ["body", "link"];
  static values = { interval: { type: Number, default: 5000 } };

  connect() {
    this.timer = setInterval(() => this.refresh(), this.intervalValue);
  }

  disconnect() {
    clearInterval(this.timer);
  }

  async refresh() {
    try {
      const res = await fetch(window.location.pathname, { headers: { accept: "text/html" } });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.querySelector("[data-status-refresh-target='body']");
      if (fresh && this.hasBodyTarget) this.bodyTarget.replaceChildren(...fresh.childNodes);
      this.element.removeAttribute("data-stale");
    } catch (error) {
      this.element.setAttribute("data-stale", "");
      console.warn("status refresh failed", error);
    }
  }
}
