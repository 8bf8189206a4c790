"""The Qt desktop application. Calls services only; holds no business rules."""
