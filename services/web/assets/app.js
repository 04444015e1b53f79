// The pages' own script, beside htmx. The Content-Security-Policy allows no inline handlers,
// so behaviour is bound here by data attributes.
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-print]");
  if (button) {
    e.preventDefault();
    window.print();
  }
});
