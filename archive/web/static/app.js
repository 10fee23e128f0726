// Optional niceties; every page works without JavaScript.
// Changing a select of the search form runs the search again.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.search");
  if (!form) return;
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => {
      if (form.querySelector("input[name=q]").value.trim()) form.submit();
    });
  }
});
