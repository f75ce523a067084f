// Attachments on the item page (docs/media.md): a sensitive item's pictures stay blurred
// until the operator presses "Show image"; pressing again blurs them back.
document.querySelectorAll("button.show-image").forEach((button) => {
  button.addEventListener("click", () => {
    const img = document.getElementById(button.getAttribute("aria-controls"));
    if (!img) return;
    const shown = button.getAttribute("aria-pressed") === "true";
    img.classList.toggle("blurred", shown);
    button.setAttribute("aria-pressed", shown ? "false" : "true");
  });
});
