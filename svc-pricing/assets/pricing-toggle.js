// pricing-toggle: switches the plans between monthly and yearly prices in place.
//
// The server renders both prices of every plan (the set not shown carries `hidden`) and a
// radio group in a GET form, so without JavaScript the form reloads the page with
// ?billing=yearly. This controller hides the form's submit button, shows the price set of
// the checked radio, and announces the change in the polite live region.
import { Controller } from "@hotwired/stimulus";

const PERIODS = ["monthly", "yearly"];

export default class extends Controller {
  static targets = ["price", "option", "status", "apply"];
  static values = { billing: { type: String, default: "monthly" } };

  connect() {
    if (this.hasApplyTarget) this.applyTarget.hidden = true;
    this.render();
  }

  // A radio of the group changed (mouse, touch or arrow keys).
  change(event) {
    const value = event.target.value;
    if (!PERIODS.includes(value) || value === this.billingValue) return;
    this.billingValue = value;
    if (this.hasStatusTarget) this.statusTarget.textContent = `Showing ${value} prices`;
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
