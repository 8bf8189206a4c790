"""The calculation service by concept; ``spm_desktop.services.calc_service`` is its public face."""
