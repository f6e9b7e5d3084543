// flash-once: a one-time confirmation ("Your changes are saved.", "You are signed out.")
// came with a query parameter (`?saved=1`); take it out of the address on connect, keeping
// the history entry and its state, so a reload or a shared link does not repeat it.
// Without JavaScript the parameter stays, and the page is still right.
import { Controller } from "@hotwired/stimulus";

export default class extends Controller {
  static values = { param: String };

  connect() {
    const url = new URL(location.href);
    if (!this.paramValue || !url.searchParams.has(this.paramValue)) return;
    url.searchParams.delete(this.paramValue);
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
}
