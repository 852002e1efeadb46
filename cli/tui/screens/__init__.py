"""The screens of the TUI, one module per task on the main menu."""
