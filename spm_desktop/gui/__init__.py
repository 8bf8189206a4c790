"""The Qt desktop application. It calls services only and contains no business rules."""
