"""Navigation areas of the main window, one module each."""
