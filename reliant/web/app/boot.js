// Runs before the first paint: apply the saved theme so the page never flashes the wrong one.
(function () {
  try {
    var theme = localStorage.getItem("reliant.theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (e) {
    // storage blocked: follow the system
  }
})();
