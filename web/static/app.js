// idres web: confirmations for dangerous forms and keyboard shortcuts in the review queue. No framework.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

(function queueKeys() {
  const items = Array.from(document.querySelectorAll("li.suggestion"));
  if (!items.length) return;
  let index = 0;
  const select = (i) => {
    items.forEach((el) => el.classList.remove("current"));
    index = Math.max(0, Math.min(items.length - 1, i));
    items[index].classList.add("current");
    items[index].scrollIntoView({ block: "nearest" });
  };
  const skip = () => {
    items[index].classList.add("skipped");
    const next = items.findIndex((el, i) => i > index && !el.classList.contains("skipped"));
    select(next === -1 ? index : next);
  };
  items.forEach((el, i) => {
    el.addEventListener("click", () => select(i));
    const button = el.querySelector("button.skip");
    if (button) button.addEventListener("click", (event) => { event.stopPropagation(); select(i); skip(); });
  });
  select(0);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    const current = items[index];
    if (event.key === "j") select(index + 1);
    else if (event.key === "k") select(index - 1);
    else if (event.key === "s") skip();
    else if (event.key === "a") { const f = current.querySelector("form.approve"); if (f) f.requestSubmit(); }
    else if (event.key === "r") { const f = current.querySelector("form.reject"); if (f) f.requestSubmit(); }
    else return;
    event.preventDefault();
  });
})();
