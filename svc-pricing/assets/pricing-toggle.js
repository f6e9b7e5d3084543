// pricing-toggle: switches the plans between monthly and yearly prices in place.
//
// The server renders both prices of every plan (the set not shown carries `hidden`) and a
// radio group in a GET form, so without JavaScript the form reloads the page with
// ?billing=yearly. The form's submit button is hidden by CSS when scripting is enabled
// (`@media (scripting: enabled)`), so it never shifts the page. This controller shows the
// price set of the checked radio, keeps the choice in the URL (`?billing=`, replaced, not
// pushed: a reload or Back shows the same prices), and announces the change politely.
import { Controller } from "@hotwired/stimulus";

const PERIODS = ["monthly", "yearly"];

export default class extends Controller {
  static targets = ["price", "option", "status", "apply"];
  static values = { billing: { type: String, default: "monthly" } };

  connect() {
    // Already hidden by CSS where browsers know `scripting`; this is for the others.
    if (this.hasApplyTarget) this.applyTarget.hidden = true;
    this.render();
  }

  // A radio of the group changed (mouse, touch or arrow keys).
  change(event) {
    const value = event.target.value;
    if (!PERIODS.includes(value) || value === this.billingValue) return;
    this.billingValue = value;
    this.remember(value);
    if (this.hasStatusTarget) this.statusTarget.textContent = `Showing ${value} prices`;
  }

  // Puts the period in the address, keeping the history entry and its state.
  remember(value) {
    const url = new URL(location.href);
    if (value === "monthly") url.searchParams.delete("billing");
    else url.searchParams.set("billing", value);
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }

  // The form only submits when JavaScript is off; with it, the change is already shown.
  submit(event) {
    event.preventDefault();
  }

  billingValueChanged() {
    this.render();
  }

  render() {
    const billing = PERIODS.includes(this.billingValue) ? this.billingValue : "monthly";
    for (const block of this.priceTargets) block.hidden = block.dataset.billing !== billing;
    for (const input of this.optionTargets) input.checked = input.value === billing;
  }
}
