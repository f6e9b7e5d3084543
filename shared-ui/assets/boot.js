// Starts Stimulus once per page and registers the controllers the page lists in
// <script type="application/json" id="mf-controllers"> (identifier + module URL).
// Other modules (the shell's loader) reuse the same application: window.Stimulus.
import { Application } from "@hotwired/stimulus";

const application = window.Stimulus || Application.start();
window.Stimulus = application;

const registered = (window.__mfRegistered ||= new Set());

export async function registerControllers(list) {
  await Promise.all(
    list
      .filter(({ identifier }) => !registered.has(identifier))
      .map(async ({ identifier, module }) => {
        registered.add(identifier);
        try {
          const mod = await import(module);
          application.register(identifier, mod.default);
        } catch (error) {
          registered.delete(identifier);
          console.warn(`could not load controller ${identifier} from ${module}`, error);
        }
      })
  );
}

const listed = document.getElementById("mf-controllers");
if (listed) {
  registerControllers(JSON.parse(listed.textContent || "[]"));
}
