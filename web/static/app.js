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
  const remember = (id) => {
    // kept in a cookie so a reload (or the next page) still shows the pair as skipped, at the end
    const now = (document.cookie.match(/(?:^|; )idres_skipped=([\d-]*)/) || [null, ""])[1];
    const ids = now.split("-").filter((v) => v && v !== id);
    ids.push(id);
    document.cookie = `idres_skipped=${ids.slice(-200).join("-")}; path=/; max-age=${8 * 3600}; samesite=lax`;
  };
  const skip = () => {
    items[index].classList.add("skipped");
    remember(items[index].getAttribute("data-id"));
    const next = items.findIndex((el, i) => i > index && !el.classList.contains("skipped"));
    select(next === -1 ? index : next);
  };
  items.forEach((el, i) => {
    el.addEventListener("click", () => select(i));
    const button = el.querySelector("button.skip");
    if (button) button.addEventListener("click", (event) => { event.stopPropagation(); select(i); skip(); });
  });
  const first = items.findIndex((el) => !el.classList.contains("skipped"));
  select(first === -1 ? 0 : first);
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
