"""Pure domain core: no Qt, no SQLAlchemy, no file I/O. A test enforces the rule."""
