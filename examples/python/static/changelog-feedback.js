// svc-changelog: shows how many characters the feedback may still hold.
// Identifier `changelog-feedback` (see /manifest.json); Stimulus comes from the page's
// import map (the shell's, or the standalone preview's).
import { Controller } from "@hotwired/stimulus";

export default class extends Controller {
  static targets = ["message", "count"];

  connect() {
    if (this.hasCountTarget) this.countTarget.hidden = false;
    this.update();
  }

  update() {
    if (!this.hasMessageTarget || !this.hasCountTarget) return;
    const max = Number(this.messageTarget.getAttribute("maxlength")) || 500;
    const left = max - this.messageTarget.value.length;
    this.countTarget.textContent = `${left} characters left`;
  }
}
